"""Weights & Biases: one W&B run per stage run, grouped by run folder; offline by default."""

from __future__ import annotations

import os
from pathlib import Path

from tunesmith.config.tracking import TrackingConfig
from tunesmith.tracking.base import TRACKERS, Backend, StageRun, replay
from tunesmith.tracking.checks import reachable, writable

DEFAULT_SERVER = "https://api.wandb.ai"


def _check(config: TrackingConfig, root: Path) -> None:
    if config.wandb.mode == "online":
        server = os.environ.get("WANDB_BASE_URL", DEFAULT_SERVER)
        reachable(server, "tracking.wandb.mode: online, but the W&B server")
    writable(root / "tracking", "tracking.wandb")


class WandbTracker:
    def __init__(self, config: TrackingConfig, run: StageRun) -> None:
        import wandb

        folder = run.folder
        folder.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=config.wandb.project,
            entity=config.wandb.entity,
            mode=config.wandb.mode,
            dir=str(folder),
            group=run.root.name,
            job_type=run.stage,
            name=run.run_name,
            config=run.params,
            reinit="create_new",
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        if step is None:
            self.run.summary.update(metrics)  # final figures: the run's summary
        else:
            self.run.log(metrics, step=step)

    def log_artifact(self, path: Path) -> None:
        pattern = str(path / "*") if path.is_dir() else str(path)
        self.run.save(pattern, base_path=str(path.parent), policy="now")

    def resume(self, step: int, history: list[tuple[int, dict]]) -> None:
        replay(self, history)

    def close(self, failed: bool) -> None:
        self.run.finish(exit_code=1 if failed else 0)


TRACKERS.register("wandb", Backend("wandb", "wandb", _check, WandbTracker))
