"""Weights & Biases: one W&B run per stage run, grouped by run folder (`StageRun.group`: a
search's or group's run folders share its group, and write into its folder); offline by
default."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from tunesmith.config.tracking import TrackingConfig
from tunesmith.tracking.base import TRACKERS, Backend, StageRun, home, replay
from tunesmith.tracking.checks import reachable, writable

DEFAULT_SERVER = "https://api.wandb.ai"


def _check(config: TrackingConfig, root: Path) -> None:
    if config.wandb.mode == "online":
        server = os.environ.get("WANDB_BASE_URL", DEFAULT_SERVER)
        reachable(server, "tracking.wandb.mode: online, but the W&B server")
    writable(home(root) / "tracking", "tracking.wandb")


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
            group=run.group,
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
        """A copy in the W&B run's own files/ folder, saved from there. run.save of the run
        folder's file symlinked to it: an offline run copied to another machine for `wandb
        sync` held dangling links, and one synced later uploaded whatever the file had
        become since (an evaluation run again). Glob characters in the path are literal."""
        files = Path(self.run.dir)
        copy = files / path.name
        if path.is_dir():
            shutil.copytree(path, copy, dirs_exist_ok=True)
        else:
            shutil.copy2(path, copy)
        copied = sorted(p for p in copy.rglob("*") if p.is_file()) if path.is_dir() else [copy]
        for file in copied:
            self.run.save(glob.escape(str(file)), base_path=glob.escape(str(files)), policy="now")

    def resume(self, step: int, history: list[tuple[int, dict]]) -> None:
        replay(self, history)

    def close(self, failed: bool) -> None:
        self.run.finish(exit_code=1 if failed else 0)


TRACKERS.register("wandb", Backend("wandb", "wandb", _check, WandbTracker))
