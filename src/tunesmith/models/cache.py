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


def lock_file(path: Path) -> Path:
    """The file `locked(path)` locks."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock next to `path` (two runs never convert the same model twice).

    The holder may remove the lock file (`lock_file(path).unlink()` inside the block, as the
    outputs store's pruning does): a process that had opened it and gets its lock after checks
    that it is still the file at that name, and otherwise locks the one there now, so no two
    processes ever hold the lock of one name at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with open(lock_file(path), "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if _still_named(handle, lock_file(path)):
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                return
        # removed by its holder meanwhile (closing let go of it): lock the file there now


def _still_named(handle, name: Path) -> bool:
    """Whether the open file `handle` is still the file at `name` (not removed or replaced)."""
    try:
        there = os.stat(name)
    except FileNotFoundError:
        return False
    mine = os.fstat(handle.fileno())
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)
