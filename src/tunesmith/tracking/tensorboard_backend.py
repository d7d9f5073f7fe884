"""TensorBoard: one log folder per stage, <run>/tracking/tensorboard/<stage> by default."""

from __future__ import annotations

from pathlib import Path

from tunesmith.config.tracking import TrackingConfig
from tunesmith.tracking.base import TRACKERS, Backend, StageRun
from tunesmith.tracking.checks import writable


def log_dir(config: TrackingConfig, root: Path) -> Path:
    given = config.tensorboard.log_dir
    return Path(given) if given else root / "tracking" / "tensorboard"


def _check(config: TrackingConfig, root: Path) -> None:
    writable(log_dir(config, root), "tracking.tensorboard.log_dir")


class TensorboardTracker:
    def __init__(self, config: TrackingConfig, run: StageRun) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir(config, run.root) / run.stage))
        table = "\n".join(f"| {k} | {v} |" for k, v in run.params.items())
        self.writer.add_text("recipe", "| key | value |\n|---|---|\n" + table)

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, global_step=step or 0)

    def log_artifact(self, path: Path) -> None:
        # TensorBoard stores no files: record where the artefact is.
        self.writer.add_text("artefacts", str(path.resolve()))

    def resume(self, step: int, history: list[tuple[int, dict]]) -> None:
        """The earlier events up to `step` stay; TensorBoard drops those after it on reading
        (the same purge marker SummaryWriter(purge_step=...) writes)."""
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        writer = self.writer.file_writer
        writer.add_event(Event(step=step + 1, file_version="brain.Event:2"))
        writer.add_event(Event(step=step + 1, session_log=SessionLog(status=SessionLog.START)))

    def close(self, failed: bool) -> None:
        self.writer.close()


TRACKERS.register("tensorboard", Backend("tensorboard", "tensorboard", _check, TensorboardTracker))
