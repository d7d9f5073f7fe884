"""Pre-flight helpers for backends: is a server listening, can a folder be written."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from tunesmith.artifacts.files import nearest_existing
from tunesmith.errors import UserError

TIMEOUT_SECONDS = 3.0


def reachable(url: str, key: str) -> None:
    """One TCP connection to the URL's host and port, or a one-line error naming `key`."""
    import socket

    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=TIMEOUT_SECONDS):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"{key}: {url} is not reachable ({reason})") from None


def writable(folder: Path, key: str) -> None:
    """The nearest existing parent of `folder` is a folder that can be written to."""
    probe = nearest_existing(folder)
    if not probe.is_dir():  # the backend's mkdir would fail mid-run with NotADirectoryError
        raise UserError(f"{key}: {folder} cannot be created ({probe} is a file, not a folder)")
    if not os.access(probe, os.W_OK):
        raise UserError(f"{key}: {folder} cannot be written (no write permission on {probe})")
