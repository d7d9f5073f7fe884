"""Which process writes the run folder: under `torchrun` only rank 0 does (RANK is set there)."""

from __future__ import annotations

import os


def process_rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_writer() -> bool:
    """True in a one-process run and in rank 0 of a multi-process one."""
    return process_rank() == 0
