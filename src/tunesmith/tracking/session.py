"""One stage run, observed: tracker runs opened, energy measured, outputs logged after it.

`observe_stage` wraps each stage in the pipeline (one call site); inside it, a stage asks
`open_trackers(path)` for the tracker its loop logs to. Only the writing process (rank 0 under
torchrun) records anything.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from pathlib import Path

from tunesmith.artifacts.rank import is_writer
from tunesmith.tracking.base import (
    ACTIVE_PARENT,
    TRACKERS,
    StageRun,
    flatten,
    tracking_group,
)
from tunesmith.tracking.fanout import FanOutTracker
from tunesmith.tracking.jsonl import JsonlTracker

_ACTIVE: ContextVar[tuple[str, list] | None] = ContextVar("tunesmith_stage_trackers", default=None)


class SilentTracker:
    """What non-writing ranks log to: nothing is written, nothing is read back."""

    def log(self, record: dict) -> None:
        pass

    def records(self) -> list[dict]:
        return []

    def truncate_after(self, step: int) -> None:
        pass


def open_trackers(path: str | Path, stage: str = "train"):
    """The tracker a stage's loop logs to: `path` (JSONL) plus the active stage's backends."""
    if not is_writer():
        return SilentTracker()
    active = _ACTIVE.get()
    name, backends = active if active else (stage, [])
    return FanOutTracker(JsonlTracker(path), backends, name)


@contextlib.contextmanager
def observe_stage(recipe, run_dir, stage: str):
    """Around one stage run: its tracker runs and energy reading; after it, what it wrote."""
    from tunesmith.tracking.energy import measure_energy
    from tunesmith.tracking.observers import stopped_by_observer
    from tunesmith.tracking.outputs import log_stage_outputs
    from tunesmith.tracking.quality import write_energy_summary

    if not is_writer():
        yield
        return
    config = recipe.tracking
    params = flatten(recipe.model_dump(mode="json"))
    parent = ACTIVE_PARENT.get()  # a search's or group's run folder: its runs nest there
    group = tracking_group(run_dir) if config.backends and parent is None else ""
    run = StageRun(run_dir.root, stage, params, group, parent)
    failed = True
    # Every tracker run opened is closed, even when another fails to open or to close (a
    # TensorBoard writer not closed loses its last events).
    with contextlib.ExitStack() as closing:
        backends = []
        for name in config.backends:
            backend = TRACKERS.get(name).open(config, run)
            backends.append(backend)
            closing.callback(lambda opened=backend: opened.close(failed))  # `failed` at the end
        token = _ACTIVE.set((stage, backends))
        try:
            with measure_energy(config.energy, run_dir, stage) as energy:
                yield
            write_energy_summary(run_dir)
            log_stage_outputs(run_dir, stage, backends, energy.result)
            # only now: a stage whose outputs could not be logged fails, and so do its runs
            failed = False
        except BaseException as exc:
            # a search trial its pruner stopped did what it was asked (its curve up to the
            # stop is whole; the study says pruned): its runs were marked FAILED, as a crash
            failed = not stopped_by_observer(exc)
            raise
        finally:
            _ACTIVE.reset(token)
