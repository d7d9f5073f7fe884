"""Names that reach the file system (runs, sessions, raters) are checked, never joined blindly."""

from __future__ import annotations

import re
from pathlib import Path

from tunesmith.errors import UserError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_name(value: str, what: str) -> str:
    """`value` if it is a plain name (letters, digits, . _ -; no '..'), else a UserError."""
    if not isinstance(value, str) or not NAME.match(value) or ".." in value:
        raise UserError(
            f"{what}: {value!r} is not a valid name (letters, digits, '.', '_', '-'; "
            "no '..' or '/')"
        )
    return value


def child_of(parent: Path, name: str, what: str) -> Path:
    """parent/name, after checking the name and that the result stays inside `parent`."""
    check_name(name, what)
    parent = parent.resolve()
    path = (parent / name).resolve()
    if path.parent != parent:
        raise UserError(f"{what}: {name!r} resolves outside {parent}")
    return path


def inside(root: Path, path: Path, what: str) -> Path:
    """`path` with its symlinks followed, if it stays inside `root`; else a UserError. A run
    folder may be copied from someone else: a planted link (report.html -> ~/.ssh/id_rsa,
    eval/human -> elsewhere) must not make the UI read or write outside it."""
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(Path(root).resolve()):
        raise UserError(f"{what}: {path} leads outside {root} (a symbolic link); refused")
    return resolved
