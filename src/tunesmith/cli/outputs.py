"""Where a command writes, checked before it writes anything.

A file given where a folder goes (or a folder where a file goes, or a path under a file) would
otherwise surface as an OSError halfway through the command, after some of its work and files;
here it is one line naming the option, exit code 2, and nothing written.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import UserError


def output_folder(path: Path, option: str = "--output") -> Path:
    """`path` is a folder, or one can be created there."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{option}: {path} exists and is not a folder")
    _creatable(path, option)
    return path


def output_file(path: Path, option: str = "--output") -> Path:
    """`path` can be written as a file: not a folder, and its folder exists or can be created."""
    if path.is_dir():
        raise UserError(f"{option}: {path} is a folder; give a file name")
    _creatable(path.parent, option)
    return path


def _creatable(folder: Path, option: str) -> None:
    """The nearest existing parent is a folder that accepts a new file (the pre-flight check)."""
    from tunesmith.preflight import check_writable

    try:
        check_writable(folder)
    except UserError as exc:
        raise UserError(f"{option}: {exc}") from None
