"""The tracker interface and the registry of tracker backends.

A backend is one module plus one `TRACKERS.register(...)` call: its name, the package it needs,
a pre-flight check (installed? reachable?) and how it opens a tracker for one stage run. The
run folder's JSONL log is not a backend: it is always on (see `fanout.py`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tunesmith.config.tracking import TrackingConfig
from tunesmith.errors import UserError
from tunesmith.registry import Registry


@dataclass
class Parent:
    """A search (`tunesmith tune`) or a run group (`tunesmith group`) as one thing in the
    trackers: the run folders inside `root` record their stage runs under it (parent.py)."""

    root: Path  # the search or group folder
    kind: str  # "search" or "group"
    group: str  # its tracker group, kept in <root>/tracking/parent.json
    params: dict = field(default_factory=dict)  # its own settings (a search's space), flattened
    tags: dict = field(default_factory=dict)  # e.g. {"tunesmith.study": name}
    opened: dict = field(default_factory=dict)  # backend name -> its parent run (open_parent)
    failed: bool = False  # its runs end FAILED though the driver returned (a member failed)

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        for opened in self.opened.values():
            opened.log_metrics(metrics, step)

    def log_artifact(self, path: Path) -> None:
        for opened in self.opened.values():
            opened.log_artifact(path)

    def relative(self, root: Path) -> str:
        """A run folder inside it by its path from it (`trials/trial-0003`), else its name."""
        inside = root.resolve().is_relative_to(self.root.resolve())
        return root.resolve().relative_to(self.root.resolve()).as_posix() if inside else root.name


@dataclass(frozen=True)
class StageRun:
    """What a backend needs to know about the stage run it records."""

    root: Path  # the run folder
    stage: str
    params: dict  # the resolved recipe, flattened ("training.learning_rate": 2e-4)
    group_id: str = ""  # the run folder's `tracking_group`; "" (a lone tracker) its name
    parent: Parent | None = None  # the search or group the run folder belongs to

    @property
    def group(self) -> str:
        """What tells this run folder's tracker runs from every other's (W&B group, MLflow
        tag, TensorBoard folder in a shared log_dir); a search's or group's run folders share
        the parent's, so it shows as one thing."""
        if self.parent is not None:
            return self.parent.group
        return self.group_id or self.root.name

    @property
    def folder(self) -> Path:
        """The trackers' own files (stores, event files, offline runs) live here."""
        return self.home / "tracking"

    @property
    def home(self) -> Path:
        """The folder whose default stores it records into: the parent's (one MLflow store,
        one TensorBoard folder for a whole search), else the run folder."""
        return self.parent.root if self.parent is not None else self.root

    @property
    def run_name(self) -> str:
        """`exp1/train`; in a search or group, the run folder's path in it
        (`trials/trial-0003/train`)."""
        folder = self.parent.relative(self.root) if self.parent else self.root.name
        return f"{folder}/{self.stage}"


class Tracker(Protocol):
    """One stage run in one backend."""

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None: ...

    def log_artifact(self, path: Path) -> None: ...

    def resume(self, step: int, history: list[tuple[int, dict]]) -> None:
        """Training resumed from `step`; `history` is (step, metrics) logged up to it."""

    def close(self, failed: bool) -> None:
        """End the stage run (marked failed when the stage raised)."""


def replay(tracker: Tracker, history: list[tuple[int, dict]]) -> None:
    """A resumed stage's new tracker run gets the curve logged up to the checkpoint first, so
    it holds the whole curve (`Tracker.resume` of every backend)."""
    for logged_at, metrics in history:
        tracker.log_metrics(metrics, logged_at)


@dataclass(frozen=True)
class Backend:
    name: str
    package: str  # import name whose absence is the "not installed" error
    check: Callable[[TrackingConfig, Path], None]  # raises UserError when not reachable
    open: Callable[[TrackingConfig, StageRun], Tracker]
    # before a command's first stage: close what an earlier attempt on the run folder left
    # open in the backend (a run it could not end); warns rather than raises
    close_left_open: Callable[[TrackingConfig, Path], None] | None = None
    # a search's or group's own run, which its run folders' stage runs nest under (a Parent
    # tracker: log_metrics, log_artifact, close(status)); None: the backend has no such run
    open_parent: Callable[[TrackingConfig, Parent], object] | None = None


TRACKERS: Registry[Backend] = Registry("tracker")

# the search or group whose run folders the pipeline runs now (tracking/parent.py sets it)
ACTIVE_PARENT: ContextVar[Parent | None] = ContextVar("tunesmith_parent", default=None)


def home(root: Path) -> Path:
    """Where the run folder `root` keeps its default stores (`StageRun.home`): the active
    search's or group's folder, else `root` itself; what pre-flight checks and what the
    next command's clean-up reaches."""
    parent = ACTIVE_PARENT.get()
    return parent.root if parent is not None else root


def preflight(config: TrackingConfig, root: Path) -> None:
    """Fail with one line before any stage runs if a chosen backend cannot work."""
    for name in config.backends:
        backend = TRACKERS.get(name)
        if importlib.util.find_spec(backend.package) is None:
            raise UserError(
                f"tracking.backends: '{name}' needs the '{backend.package}' package, which is "
                "not installed (pip install 'tunesmith[tracking]')"
            )
        backend.check(config, root)


GROUP_FIELD = "tracking_group"  # the manifest field that keeps it
GROUP_NAME_MAX = 100  # W&B takes a group name of up to 128 characters


def tracking_group(run_dir) -> str:
    """The run folder's group name for trackers, made at its first tracked stage and kept in
    its manifest: its name and 8 random hex digits (`exp1-3f9a0c1d`). The name alone put two
    projects' runs/exp1 (or two searches' trial-3) in one W&B group; the resolved path would
    change when the folder is moved or copied to another machine and resumed there."""
    kept = run_dir.read_manifest().get(GROUP_FIELD)
    if isinstance(kept, str) and kept:
        return kept
    made = new_group(run_dir.root.name)
    run_dir.set_field(GROUP_FIELD, made)
    return made


def new_group(name: str) -> str:
    """A new tracker group for the folder named `name` (`tracking_group`)."""
    import secrets

    return f"{name[:GROUP_NAME_MAX]}-{secrets.token_hex(4)}"


def close_left_open(config: TrackingConfig, root: Path) -> None:
    """Every chosen backend's `close_left_open` on the run folder `root` (the writing process
    only: the other ranks of a torchrun record nothing)."""
    from tunesmith.artifacts.rank import is_writer

    if not is_writer():
        return
    for name in config.backends:
        close = TRACKERS.get(name).close_left_open
        if close is not None:
            close(config, root)


def flatten(value, prefix: str = "") -> dict:
    """Nested mappings/lists -> {"a.b.0": leaf}; leaves are str, int, float, bool or None."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return {prefix: value}
    flat: dict = {}
    for key, item in items:
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat
