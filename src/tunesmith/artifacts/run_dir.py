"""Run folder layout and manifest.json (per-stage status, hashes, fingerprints, timings)."""

from __future__ import annotations

import contextlib
import platform
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from tunesmith.artifacts.files import nearest_existing, read_json, staged_into, write_json

STAGES = ("data", "train", "evaluate", "report")
STAGE_FOLDERS = {"data": "data", "train": "train", "evaluate": "eval", "report": "report"}
TRACKED_PACKAGES = ("tunesmith", "torch", "transformers", "peft", "datasets", "accelerate")


class RunDir:
    """One run's folder. Each stage writes only inside its own sub-folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def new(cls, parent: str | Path, name: str) -> RunDir:
        if Path(name).name != name or name in ("", ".", ".."):  # never outside `parent`
            from tunesmith.errors import UserError

            raise UserError(f"run name '{name}' is not a plain folder name")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return cls(Path(parent) / f"{name}-{stamp}")

    def stage(self, name: str) -> Path:
        return run_folder(self.root / STAGE_FOLDERS.get(name, name))

    def staged(self, name: str):
        """`files.staged_into` the stage's folder: its new files are written beside it and
        moved in only when all are, so a failed stage leaves the folder as it was. A file
        where the folder goes is refused now (one line), not after the work."""
        folder = self.root / STAGE_FOLDERS.get(name, name)
        if not nearest_existing(folder).is_dir():
            raise _file_in_the_way(folder)
        return staged_into(folder)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def train(self) -> Path:
        return self.root / "train"

    @property
    def eval(self) -> Path:
        return self.root / "eval"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def logs(self) -> Path:
        return run_folder(self.root / "logs")

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def read_manifest(self) -> dict[str, Any]:
        if self.manifest_path.is_file():
            return _checked_manifest(self.manifest_path, read_json(self.manifest_path))
        return {"created": _now(), "versions": _versions(), "stages": {}}

    def update_stage(self, stage: str, **fields: Any) -> None:
        manifest = self.read_manifest()
        entry = manifest["stages"].setdefault(stage, {})
        entry.update(fields)
        manifest["updated"] = _now()
        write_json(self.manifest_path, manifest)

    def replace_stage(self, stage: str, entry: dict[str, Any]) -> None:
        """Set a stage's whole entry (put back as it was, not merged)."""
        manifest = self.read_manifest()
        manifest["stages"][stage] = entry
        manifest["updated"] = _now()
        write_json(self.manifest_path, manifest)

    def stage_entry(self, stage: str) -> dict[str, Any]:
        return self.read_manifest()["stages"].get(stage, {})

    def set_field(self, key: str, value: Any) -> None:
        manifest = self.read_manifest()
        manifest[key] = value
        write_json(self.manifest_path, manifest)


def _checked_manifest(path: Path, manifest: Any) -> dict[str, Any]:
    """A manifest without `stages` (an older or half-written one) has no stage finished; one of
    another shape is a damaged run file, one line, not a KeyError in whichever command read it."""
    stages = manifest.setdefault("stages", {}) if isinstance(manifest, dict) else None
    if not isinstance(stages, dict) or not all(isinstance(e, dict) for e in stages.values()):
        from tunesmith.errors import UserError

        raise UserError(
            f"{path}: damaged run file, not an object with a 'stages' object of stage entries"
        )
    return manifest


def run_folder(path: Path) -> Path:
    """`path` made (with its parents) as a folder of a run. A file where it goes, or where one
    of its parents goes, is a damaged run folder: one line naming that file, not mkdir's
    FileExistsError or NotADirectoryError, and nothing of the run touched."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise _file_in_the_way(path) from None
    return path


def _file_in_the_way(path: Path):
    from tunesmith.errors import UserError

    blocker = nearest_existing(path)
    needed = "" if blocker == path else f" (on the way to {path})"
    return UserError(
        f"{blocker}: a file where the run needs a folder{needed}, a damaged run folder; "
        "move or remove the file, then run again"
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for package in TRACKED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found


def timer() -> float:
    return time.perf_counter()
