"""Is a process still there? One probe for the tuning driver's stale-trial check and the UI."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while `pid` exists on this host (signal 0 delivers nothing; it only checks)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True
