"""Scored outputs shared by every run on this machine: a model's generation and reference NLL
for a prompt, kept so the next run that asks the same model the same thing reads them back.

Why: each run evaluates its baselines (the plain base, the few-shot base) and the checks'
base-model rows again, although nothing that decides them changed — the same weights, the same
prompts, the same settings. Those rows are most of the evaluate stage's time (lm-eval-harness's
`--use_cache` exists for the same reason).

What a record may be reused for is decided by its key, never by a run folder's name: the model's
identity (the row, the model section, the contents of every file the row loads, the weights'
contents), the precision it ran in, the software computing it (torch, transformers and this
package's own source), the instruction sets its kernels used, the generation settings, the
prompt's token ids and the reference's. One JSONL file per model identity, appended under a
lock; a damaged line (a run killed mid-write) is skipped, never an error: this is a cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

OFF = "off"  # TUNESMITH_OUTPUTS=off: no store (each run keeps only its own saved outputs)
# The store's size bound: every tuned model, tunesmith release and edited model folder is a new
# identity, so without one it would grow with every run. A demo run adds ~0.3 MB; 1 GB keeps
# thousands of runs. Beyond it the files used least recently go first.
MAX_MB = 1024
MAX_MB_VARIABLE = "TUNESMITH_OUTPUTS_MAX_MB"


def outputs_root() -> Path | None:
    """The store's folder: $TUNESMITH_OUTPUTS, else <tunesmith cache>/outputs; None when off."""
    chosen = os.environ.get("TUNESMITH_OUTPUTS")
    if chosen == OFF:
        return None
    if chosen:
        return Path(chosen)
    from tunesmith.models.cache import tunesmith_cache

    return tunesmith_cache() / "outputs"  # no models/ folder made just to find this one


class OutputStore:
    """The records of one model identity: key -> {"prediction", "nll", "tokens"}."""

    def __init__(self, folder: Path, identity: str) -> None:
        self.path = folder / f"{identity[:32]}.jsonl"

    def load(self) -> dict[str, dict]:
        if not self.path.is_file():
            return {}
        try:
            # under the writers' lock: a line another run is appending is not read half-written
            with _locked(self.path):
                lines = self.path.read_bytes().splitlines()
                _touch(self.path)
        except OSError as exc:
            log.warning("%s: saved outputs not read (%s)", self.path, exc)
            return {}
        records, skipped = {}, 0
        for line in filter(None, lines):
            try:
                record = json.loads(line)
                records[record.pop("key")] = record
            except (ValueError, KeyError, TypeError, AttributeError):
                skipped += 1
        if skipped:
            log.warning("%s: %d damaged line(s) skipped", self.path, skipped)
        return records

    def add(self, records: dict[str, dict]) -> None:
        """Append `records`; a store that cannot be written only costs the next run the time."""
        if not records:
            return
        lines = "".join(json.dumps({"key": k, **v}) + "\n" for k, v in records.items())
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _locked(self.path), open(self.path, "ab+") as handle:
                handle.write(_line_start(handle) + lines.encode("utf-8"))
        except OSError as exc:
            log.warning("%s: outputs not kept for later runs (%s)", self.path, exc)
            return
        prune(self.path.parent, max_bytes(), keep=self.path)


def _line_start(handle) -> bytes:
    """b'\n' when the file ends inside a line (a run killed mid-append), else b'': the half
    line stays alone (skipped when read) instead of swallowing the first new record."""
    end = handle.seek(0, 2)
    if end == 0:
        return b""
    handle.seek(end - 1)
    return b"" if handle.read(1) == b"\n" else b"\n"


def _touch(path: Path) -> None:
    """Mark the file used now: pruning removes the least recently used first (a read-only
    store is still read)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def max_bytes() -> int:
    """The store's bound: $TUNESMITH_OUTPUTS_MAX_MB, else `MAX_MB` (a bad value: the default,
    with a warning; this is a cache, it never stops a run)."""
    chosen = os.environ.get(MAX_MB_VARIABLE, "").strip()
    try:
        megabytes = float(chosen) if chosen else MAX_MB
        if megabytes < 0 or megabytes != megabytes:  # negative or NaN
            raise ValueError(chosen)
    except ValueError:
        log.warning(
            "%s=%r is not a size in MB; the store keeps %d MB", MAX_MB_VARIABLE, chosen, MAX_MB
        )
        megabytes = MAX_MB
    return int(megabytes * 1e6)


def prune(folder: Path, limit: int, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used model files until the store holds at most `limit` bytes
    (`keep`, the file just written, stays even alone above it); the files removed. A lock
    file whose model file is gone (removed by older code, or by hand) goes too."""
    files = []
    for path in folder.glob("*.jsonl"):
        try:
            stat = path.stat()
        except OSError:  # removed by another run meanwhile
            continue
        files.append((stat.st_mtime_ns, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    removed = []
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total <= limit:
            break
        if path == keep:
            continue
        remove_file(path)
        total -= size
        removed.append(path)
    for lock in folder.glob("*.jsonl.lock"):
        if not lock.with_suffix("").exists():
            remove_file(lock.with_suffix(""), orphan_lock_only=True)
    if removed:
        log.info("outputs store %s: %d least recently used file(s) removed", folder, len(removed))
    return removed


def clear(folder: Path) -> list[Path]:
    """Every model file of the store removed (`tunesmith cache --clear`); the files removed."""
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    for path in files:
        remove_file(path)
    return files


def remove_file(path: Path, orphan_lock_only: bool = False) -> None:
    """A model file and its lock file removed, under that lock: not while another run appends
    to or reads the file, and the lock file only by its holder, which `locked` makes safe for
    a run waiting on it (it then locks the new lock file another run makes). With
    `orphan_lock_only`, only a lock file whose model file is (still) missing goes."""
    from tunesmith.models.cache import lock_file

    with _locked(path):
        if not orphan_lock_only:
            path.unlink(missing_ok=True)
        if not path.exists():  # a run that created it meanwhile keeps both
            lock_file(path).unlink(missing_ok=True)


def _locked(path: Path):
    from tunesmith.models.cache import locked

    return locked(path)


def environment(model_section, precision: str) -> dict | None:
    """What computes a model's outputs besides the model: precision, software, kernels, and
    the weights' contents (a re-downloaded or edited model folder is another model); None
    when the weights cannot be pinned down (a hub id)."""
    import torch
    import transformers

    from tunesmith.models.cpu_isa import onednn_bf16, torch_capability

    weights = weights_fingerprint(model_section.name)
    if weights is None:
        return None
    return {
        "precision": precision,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tunesmith": source_fingerprint(),
        "isa": [torch_capability(), onednn_bf16()],
        "weights": weights,
    }


@cache
def source_fingerprint() -> str:
    """sha256 of this package's Python source: any change to it may change an output."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for file in sorted(root.rglob("*.py")):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def weights_fingerprint(name: str) -> str | None:
    """The contents of the model folder `name` resolves to; None for a hub id, whose weights
    can change under the same name (no outputs are shared across runs for it)."""
    from tunesmith.models.aliases import MODEL_ALIASES
    from tunesmith.models.resolve import resolve_model

    path = Path(name).expanduser()
    if name not in MODEL_ALIASES and path.suffix != ".gguf" and not path.is_dir():
        return None  # resolve_model would also ask the hub again
    folder = Path(resolve_model(name, fetch=False)).resolve()
    if not folder.is_dir():
        return None
    # hashed once per process and state of the files (~0.5 s for a 135M model)
    state = tuple((f.name, *_size_and_time(f)) for f in sorted(folder.rglob("*")) if f.is_file())
    return _folder_digest(str(folder), state)


def _size_and_time(file: Path) -> tuple[int, int]:
    stat = file.stat()
    return stat.st_size, stat.st_mtime_ns


@cache
def _folder_digest(folder: str, state: tuple) -> str:
    from tunesmith.artifacts import fingerprint

    return fingerprint(folder)
