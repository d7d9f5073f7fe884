"""A search or a run group as one thing in the trackers.

`nested_runs` wraps a driver (`tunesmith tune`, `tunesmith group`): while it runs, the stage
runs of every run folder the driver runs (trials or members, their shared data, a search's
final runs) are recorded under the parent: in MLflow as children of the parent's own run
(`mlflow.parentRunId`), in one store, the parent folder's (<root>/tracking/mlflow.db) unless
the recipe names one; in W&B in the parent's group; in TensorBoard under the parent's log
folder. Before, each trial folder had its own MLflow database and W&B group.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from tunesmith.artifacts.files import read_json_object, write_json
from tunesmith.config.tracking import TrackingConfig
from tunesmith.tracking.base import (
    ACTIVE_PARENT,
    GROUP_FIELD,
    TRACKERS,
    Parent,
    new_group,
    preflight,
)

FILE = "parent.json"  # in <root>/tracking/: the parent's tracker group and MLflow runs


@contextlib.contextmanager
def parent_record(root: Path):
    """The parent's record, read, handed to the block to change, written back: under a lock,
    since a search's workers (`tune --worker` on the same folder) share it."""
    from tunesmith.models.cache import locked  # models/ imports torch: only when tracking

    path = root / "tracking" / FILE
    with locked(path):
        kept = read_json_object(path) if path.is_file() else {}
        yield kept
        write_json(path, kept)


def _parent_group(root: Path) -> str:
    """The folder's tracker group, made once and kept (as a run folder's, base.tracking_group)."""
    with parent_record(root) as kept:
        if not isinstance(kept.get(GROUP_FIELD), str) or not kept[GROUP_FIELD]:
            kept[GROUP_FIELD] = new_group(root.name)
        return kept[GROUP_FIELD]


@contextlib.contextmanager
def nested_runs(config: TrackingConfig, root: Path, kind: str, params: dict, tags: dict):
    """Within the block, the pipeline's stage runs nest under the parent `root` (a search or a
    group folder); yields it, for the driver's own figures (`Parent.log_metrics`). Its runs end
    FINISHED when the block does, FAILED when it raises (Ctrl-C too, as a stage's runs)."""
    from tunesmith.artifacts.rank import is_writer

    if not config.backends or not is_writer():
        yield Parent(root, kind, "")  # nothing recorded: its figures go nowhere
        return
    preflight(config, root)  # a store that cannot work: one line before anything, as `run`
    parent = Parent(root, kind, _parent_group(root), params, tags)
    status = "FAILED"
    with contextlib.ExitStack() as closing:
        for name in config.backends:
            opener = TRACKERS.get(name).open_parent
            if opener is not None:
                opened = parent.opened[name] = opener(config, parent)
                closing.callback(lambda run=opened: run.close(status))  # `status` at the end
        token = ACTIVE_PARENT.set(parent)
        try:
            yield parent
            status = "FAILED" if parent.failed else "FINISHED"
        finally:
            ACTIVE_PARENT.reset(token)
