"""MLflow: one MLflow run per stage run, in a SQLite store inside the run folder by default."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

from tunesmith.config.tracking import TrackingConfig
from tunesmith.tracking.base import TRACKERS, Backend, StageRun
from tunesmith.tracking.checks import reachable, writable

PARAMS_PER_BATCH = 100  # MLflow's log_batch limit
PARAM_VALUE_MAX = 6000


def tracking_uri(config: TrackingConfig, root: Path) -> str:
    return config.mlflow.tracking_uri or f"sqlite:///{root.resolve() / 'tracking' / 'mlflow.db'}"


def _check(config: TrackingConfig, root: Path) -> None:
    uri = tracking_uri(config, root)
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        reachable(uri, "tracking.mlflow.tracking_uri")
    elif scheme == "sqlite":
        writable(Path(uri.removeprefix("sqlite:///")).parent, "tracking.mlflow.tracking_uri")


class MlflowTracker:
    def __init__(self, config: TrackingConfig, run: StageRun) -> None:
        from mlflow.tracking import MlflowClient

        uri = tracking_uri(config, run.root)
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(config.mlflow.experiment)
        if experiment is None:
            # Local stores keep artefacts beside the store, not in the working directory.
            local = urlparse(uri).scheme not in ("http", "https")
            where = (run.folder / "mlartifacts").resolve().as_uri() if local else None
            experiment_id = self.client.create_experiment(
                config.mlflow.experiment, artifact_location=where
            )
        else:
            experiment_id = experiment.experiment_id
        tags = {"tunesmith.run_folder": run.root.name, "tunesmith.stage": run.stage}
        created = self.client.create_run(experiment_id, run_name=run.run_name, tags=tags)
        self.run_id = created.info.run_id
        self._log_params(run.params)

    def _log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:PARAM_VALUE_MAX]) for k, v in params.items()]
        for start in range(0, len(items), PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + PARAMS_PER_BATCH])

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [Metric(k, v, now, step or 0) for k, v in metrics.items()]
        if rows:
            self.client.log_batch(self.run_id, metrics=rows)

    def log_artifact(self, path: Path) -> None:
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path=path.name)
        else:
            self.client.log_artifact(self.run_id, str(path))

    def resume(self, step: int, history: list[tuple[int, dict]]) -> None:
        for logged_at, metrics in history:  # a new MLflow run: the curve up to the checkpoint
            self.log_metrics(metrics, logged_at)

    def close(self, failed: bool) -> None:
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


TRACKERS.register("mlflow", Backend("mlflow", "mlflow", _check, MlflowTracker))
