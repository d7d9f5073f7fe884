"""Where converted models are cached, and a cross-process lock so one process converts."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


def tunesmith_cache() -> Path:
    """tunesmith's cache folder ($TUNESMITH_CACHE, else ~/.cache/tunesmith): models, outputs."""
    return Path(os.environ.get("TUNESMITH_CACHE") or Path.home() / ".cache" / "tunesmith")


def cache_root() -> Path:
    path = tunesmith_cache() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock next to `path` (two runs never convert the same model twice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
