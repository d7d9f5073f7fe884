"""An exclusive lock per run folder, so two runs never interleave one folder's files.

An OS file lock (`flock`) on `<run>/.lock`, holding the owner's pid for the message. The OS
drops the lock when its process dies, so a lock left by a killed run (`kill -9`) is simply
taken over by the next run: there is no stale lock to clean up by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

from tunesmith.errors import UserError

LOCK_NAME = ".lock"


class RunLock:
    """`with RunLock(folder):` — raises UserError naming the pid that holds the folder."""

    def __init__(
        self,
        folder: str | Path,
        what: str = "run folder",
        hint: str = "wait for it to finish or use another --output",
    ) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.what, self.hint = what, hint  # the refusal's wording: which folder, what to do
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            where = self.path.parent
            raise UserError(f"{where}: cannot write the run folder ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(
                f"{self.what} {self.path.parent} is in use by pid {owner}; {self.hint}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> bool:
        import fcntl

        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        return False
