"""Atomic file writes and content fingerprints."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` so a reader never sees a half-written file."""
    path = Path(path)
    tmp = _complete_temp(path, text)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        # the rename names the temp file first ('.summary.json.x8f2: Is a directory'): a
        # name the user never chose and that is gone by now; the target is what failed
        exc.filename, exc.filename2 = str(path), None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_new_text(path: str | Path, text: str) -> bool:
    """Write `path` only when nothing is there yet: True when this call created it, False when
    it already existed (another writer came first; its file is left as it is).

    Checking first and writing after lets two writers both see "nothing there" and both
    write. The complete text goes to a temp file that is hard-linked to `path`: a link
    refuses an existing name atomically (os.replace would overwrite it), and a reader sees
    the whole file or none, never the empty file an O_EXCL create shows until written."""
    path = Path(path)
    tmp = _complete_temp(path, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _complete_temp(path: Path, text: str) -> Path:
    """`text` in a new temp file beside `path`, written and fsynced, readable by all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; run files are meant to be shared
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return Path(tmp)


@contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """An OSError raised inside without a file name (a write or fsync on an open handle: disk
    full, quota) names `path`, so the user's one line says which file could not be written
    rather than 'a file'. One that names its own file (a temp or staging name) is left as is."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


@contextmanager
def swapped_into(target: str | Path) -> Iterator[Path]:
    """Yield a staging path beside `target` (nothing there yet); when the block succeeds, the
    file or folder written there replaces `target`.

    Two renames (target -> its previous name, staging -> target): a reader sees the old one or
    the new one, never half of one, and a crash between the renames leaves the previous one at
    `previous_folder(target)`. A failed block leaves `target` untouched and no staging behind.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(target)
    remove(staging)
    try:
        with naming(target):  # what the block writes into staging is written for `target`
            yield staging
        _swap(staging, target)
    except BaseException:
        remove(staging)
        raise


def _swap(staging: Path, target: Path) -> None:
    """`staging` renamed to `target`, replacing it whole (file or folder) in two renames."""
    old = previous_folder(target)
    remove(old)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    remove(old)


@contextmanager
def staged_into(folder: str | Path) -> Iterator[Callable[[str], Path]]:
    """Yield `place(relative)`: the path to write what goes to `folder/relative` at (a file or
    a folder, neither made yet). When the block succeeds, each placed path replaces its
    namesake under `folder` whole (as `swapped_into` does), and the rest of `folder` stays as
    it is; a failed block leaves `folder` as it was (not even created) and no staging behind.

    For a command whose outputs are several files that only make sense together (a stage's
    predictions and the figures computed from them): an error or Ctrl-C midway must not leave
    some new files beside old ones, nor an empty folder. (The moves are renames, milliseconds
    in all; only a crash between two of them splits the set, and the next staging clears the
    rest.)"""
    folder = Path(folder)
    staging = staging_path(folder)
    remove(staging)  # left by a process killed mid-write
    placed: dict[str, None] = {}

    def place(relative: str) -> Path:
        placed[relative] = None
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        return staging / relative

    try:
        with naming(folder):
            yield place
        for relative in placed:
            if (staging / relative).exists():
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                _swap(staging / relative, folder / relative)
    finally:
        remove(staging)


@contextmanager
def resumable_into(folder: str | Path, resume_state: Callable[[], bool]) -> Iterator[None]:
    """Around work that writes `folder` and saves resume state in it as it goes (checkpoints;
    `resume_state()` says whether some is there). A `folder` holding none (a finished result,
    or what a killed attempt left) is moved aside first, so the work starts afresh; a failed
    block that saved no resume state leaves `folder` as it was (its writes removed, the folder
    moved aside put back, or none when there was none); otherwise the folder moved aside is
    dropped and the resume state kept, for the same command to resume from.

    For a command that resumes outside the pipeline, which does the same for its stages
    (pipeline.py `_Previous`, with the manifest entry)."""
    folder = Path(folder)
    aside = previous_folder(folder)
    remove(aside)  # left by a process killed mid-work
    if folder.exists() and not resume_state():
        os.replace(folder, aside)
    try:
        yield
    except BaseException:
        if not resume_state():
            remove(folder)
            if aside.exists():
                os.replace(aside, folder)
        raise
    finally:
        remove(aside)


@contextmanager
def folder_swap(target: str | Path) -> Iterator[Path]:
    """`swapped_into` for a folder: the staging folder is created, empty."""
    with swapped_into(target) as staging:
        staging.mkdir()
        yield staging


def write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """`write(staging)` then rename to `target`; on any failure nothing is left behind."""
    with swapped_into(target) as staging:
        write(staging)


@contextmanager
def swapped_together(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """`swapped_into` for sibling files that only make sense together (a curated file and its
    data card): yields their staging paths, in the order of `targets`. The block writes each
    whole with an atomic writer (write_json, write_jsonl, atomic_write_text), the last one
    last: that one's staging file being there says the whole set is written. Then each
    replaces its target in order, the last one last.

    A process killed before that point left staging only: the next `swapped_together` (or
    `recover_swaps_together`) removes it, the set stays as it was. Killed during the renames,
    it left the rest of a complete set staged: the next one finishes the renames. Either way
    the old files of the set are never left beside new ones once it ran. (Not for a folder that
    `recover_killed_writes` clears: it would take the staging for leftovers to remove.)"""
    targets = [Path(target) for target in targets]
    recover_swaps_together(targets)
    stagings = [staging_path(target) for target in targets]
    try:
        with naming(targets[0]):
            yield stagings
    except BaseException:
        for staging in stagings:
            remove(staging)
        raise
    _finish_swaps(targets)


def recover_swaps_together(targets: Sequence[Path]) -> None:
    """What a `swapped_together` of `targets` killed midway left, undone (see there); then the
    rest of their leftovers (temp files, a swap cut between its renames) as
    `recover_killed_writes` does. No other file beside them is touched."""
    targets = [Path(target) for target in targets]
    if staging_path(targets[-1]).exists():  # the set was written whole: its renames finished
        _finish_swaps(targets)
    wanted = set(targets)
    for folder in {target.parent for target in targets}:
        leftovers = [path for path in _listing(folder) if _left_by(path, wanted)]
        for path in sorted(leftovers, key=lambda p: len(p.name), reverse=True):
            _undo_leftover(path)  # longest first: a staging's temp file before the staging


def _finish_swaps(targets: list[Path]) -> None:
    for target in targets:
        staging = staging_path(target)
        if staging.exists():
            _swap(staging, target)


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def recover_killed_writes(folder: str | Path) -> None:
    """What writers killed mid-write (kill -9, or Ctrl-C between two renames) left under
    `folder`, undone: staging (`.name.partial`) and half-written temp files removed, and a
    previous version (`.name.old`) put back where its new one never arrived, else removed.
    Only for a folder no other process writes (its run lock held). Symbolic links are not
    followed: what a link inside points to (another run, a shared data folder) is not ours."""
    # bottom-up: what a staging or previous folder holds is undone before the folder itself
    for parent, folders, files in os.walk(folder, topdown=False, followlinks=False):
        for name in folders + files:
            if _leftover(name) is not None:
                _undo_leftover(Path(parent) / name)


def _undo_leftover(path: Path) -> None:
    """A leftover removed, or a previous version put back where its new one never arrived."""
    kind, target = _leftover(path.name)
    if kind == "old":
        target = path.with_name(target)
        if target.exists() or target.is_symlink():
            remove(path)
        else:
            os.replace(path, target)
    elif kind == "partial" or path.is_file() or path.is_symlink():  # a temp file, not a folder
        remove(path)


# The names writers here give what they leave beside a target while they write it: its
# previous version (`_swap`, `resumable_into`), its staging (`swapped_into`, `staged_into`)
# and `_complete_temp`'s temp files (mkstemp(prefix=".name."): 8 random characters).
_LEFTOVER = re.compile(r"\.(?P<target>.+)\.(?:(?P<kind>old|partial)|[a-z0-9_]{8})")


def previous_folder(target: str | Path) -> Path:
    """Where a swap keeps the previous file or folder while it swaps (`_leftover` maps it back)."""
    return _named_for(target, "old")


def staging_path(target: str | Path) -> Path:
    """Where a swap writes the new file or folder before it replaces `target`."""
    return _named_for(target, "partial")


def _named_for(target: str | Path, kind: str) -> Path:
    target = Path(target)
    return target.with_name(f".{target.name}.{kind}")


def _leftover(name: str) -> tuple[str, str] | None:
    """(kind, target name) of a leftover's name: `_named_for` inverted ('old', 'partial'), or
    'temp' for a temp file's; None for any other name."""
    match = _LEFTOVER.fullmatch(name)
    if not match:
        return None
    return match["kind"] or "temp", match["target"]


def _left_by(path: Path, targets: set[Path]) -> bool:
    """Whether `path` is a leftover of one of `targets`, or a leftover of one of their leftovers
    (the temp file of a staging file)."""
    while (leftover := _leftover(path.name)) is not None:
        path = path.with_name(leftover[1])
        if path in targets:
            return True
    return False


def write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, strict_json(data, indent=2) + "\n")


def create_new_json(path: str | Path, data: Any) -> bool:
    """`create_new_text` for a JSON file written as `write_json` writes it."""
    return create_new_text(path, strict_json(data, indent=2) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    atomic_write_text(path, "".join(strict_json(r) + "\n" for r in rows))


def strict_json(data: Any, indent: int | None = None) -> str:
    """`data` as standard JSON: a non-finite float (NaN, ±inf) is written as null.

    Python's json writes them as NaN / Infinity, which is not JSON: jq, JavaScript's
    JSON.parse and most other readers reject the whole file. A metric that cannot be computed
    is "no value", which null says in every reader; allow_nan=False then makes any float this
    conversion missed an error here instead of a file nobody else can read."""
    return json.dumps(_finite(data), indent=indent, ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    """`value` with every non-finite float (in dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def read_jsonl(path: str | Path) -> list[dict]:
    """The rows of a run file; a damaged one is a UserError naming file:line, not a traceback."""
    rows = []
    # bytes, decoded line by line: a text-mode read decodes in blocks, so its error could not
    # say which line holds the bad byte
    with _opened(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = _decode(path, raw, number)
            if line.strip():
                rows.append(_row(path, _parse(path, line, number), number))
    return rows


def _row(path: str | Path, value: Any, line: int) -> dict:
    # every run file of rows holds objects: a damaged one is this line, not an AttributeError
    # where a command reads a field of it
    return _object(f"{path}:{line}", value, "a row is ")


JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}
JSON_KINDS.update({bool: "true or false", type(None): "null", dict: "an object"})


def _object(where: str, value: Any, what: str = "") -> dict:
    if not isinstance(value, dict):
        from tunesmith.errors import UserError

        kind = JSON_KINDS.get(type(value), type(value).__name__)  # JSON's names, not Python's
        raise UserError(f"{where}: damaged run file, {what}{kind}, not an object")
    return value


def read_json(path: str | Path) -> Any:
    """A JSON run file (manifest, metrics, data card); a damaged one is one clear error."""
    with _opened(path) as handle:
        raw = handle.read()
    return _parse(path, _decode(path, raw, None), None)


def _opened(path: str | Path):
    """A run file opened to read; a missing one is a UserError: a command reads only what a
    finished stage wrote, so the folder was damaged (it was a FileNotFoundError traceback)."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        from tunesmith.errors import UserError

        raise UserError(
            f"{path}: missing run file (the folder is damaged or incomplete); restore it or "
            "re-run the stage that writes it"
        ) from None


def read_json_object(path: str | Path) -> dict:
    """`read_json` of a run file that holds one object (compare.json, summary.json, ...)."""
    return _object(str(path), read_json(path))


def read_optional_object(path: str | Path) -> dict | None:
    """`read_json_object` of a run file a stage may not have written: None when there is none.
    Its readers go on to `.get` fields: a damaged one of another shape (`[]`) was an
    AttributeError traceback there."""
    return read_json_object(path) if Path(path).is_file() else None


def _decode(path: str | Path, raw: bytes, line: int | None) -> str:
    # run files are written by us, BOM-less: any stray byte means the file was damaged
    return decode_utf8(raw, path, problem="damaged run file, not UTF-8 text", first_line=line or 1)


def decode_text(raw: bytes, source: str | Path) -> str:
    """Text a user wrote (data files, recipes, rating sheets) as str: UTF-8, a BOM dropped
    (editors on Windows write one); any other byte is a `source:line` error."""
    return decode_utf8(raw, source, advice="; re-encode as UTF-8", allow_bom=True)


def decode_utf8(
    raw: bytes,
    source: str | Path,
    *,
    problem: str = "not UTF-8 text",
    advice: str = "",
    allow_bom: bool = False,
    first_line: int = 1,
) -> str:
    """`raw` as UTF-8 text (a leading BOM dropped when `allow_bom`); a byte that is not UTF-8
    is one UserError, `source:line: <problem> (byte 0x..)<advice>`, naming the bad byte's line
    (`raw` starting on line `first_line`). Run files and user data files share it, so both
    name the line the same way; each keeps its own wording."""
    try:
        return raw.decode("utf-8-sig" if allow_bom else "utf-8")
    except UnicodeDecodeError as exc:
        from tunesmith.errors import UserError

        # exc.object, not raw: with a BOM, utf-8-sig reports the offset in the bytes after it
        decoded = exc.object
        line = first_line + decoded[: exc.start].count(b"\n")
        raise UserError(
            f"{source}:{line}: {problem} (byte 0x{decoded[exc.start]:02x}){advice}"
        ) from None


def _parse(path: str | Path, text: str, line: int | None) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        from tunesmith.errors import UserError

        where = f"{path}:{line}" if line else f"{path}:{getattr(exc, 'lineno', '?')}"
        raise UserError(f"{where}: damaged run file, not valid JSON ({exc})") from None
    except RecursionError:  # json recurses once per level: a planted `[[[[...` of a copied folder
        from tunesmith.errors import UserError

        raise UserError(f"{path}:{line or 1}: damaged run file, JSON nested too deeply") from None


def fingerprint(*paths: str | Path) -> str:
    """sha256 over the contents of files (folders: every file inside, in sorted order)."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.name.startswith("."):
                continue
            digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
            _hash_into(digest, file)
    return digest.hexdigest()[:16]


def content_sha256(path: str | Path) -> str:
    """The sha256 of one file's bytes (hex), whatever its name (a staging file's included)."""
    digest = hashlib.sha256()
    _hash_into(digest, Path(path))
    return digest.hexdigest()


def _hash_into(digest, file: Path) -> None:
    with open(file, "rb") as handle:
        for block in iter(lambda h=handle: h.read(1 << 20), b""):
            digest.update(block)


def remove(path: Path) -> None:
    """A file or a folder, removed (nothing there is fine); a symbolic link is removed itself,
    never what it points to."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def nearest_existing(path: str | Path) -> Path:
    """`path` itself when it exists, else its nearest existing parent: where a folder that is
    still to be created would be made, so the place to check before creating it."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def size_on_disk(path: Path) -> int:
    """Bytes of a file, or of every file in a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
