"""What the bench scripts share: where ../shared is, and the demo task's prompt."""

from __future__ import annotations

import os
from pathlib import Path


def _shared() -> Path:
    """`../shared` next to the repository (or $TUNESMITH_SHARED): the bench's data and peer."""
    if os.environ.get("TUNESMITH_SHARED"):
        return Path(os.environ["TUNESMITH_SHARED"])
    repo = Path(__file__).resolve().parents[1]
    for base in (repo.parent, Path.cwd().parent, Path("/work")):
        if (base / "shared" / "data").is_dir():
            return base / "shared"
    return repo.parent / "shared"


SHARED = _shared()
PROMPT = "Write a one-line synopsis for this software package description.\n\n"
