"""MLflow against a real tracking server (`mlflow server` subprocess) that dies mid-run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tunesmith.artifacts import read_jsonl

MLFLOW = Path(sys.executable).with_name("mlflow")
STARTUP_SECONDS = 180  # a fresh SQLite store migrates its schema first (40 s on a busy CPU)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`mlflow server` run in `folder` with its defaults (the store sqlite:///mlflow.db and
    the artefacts in ./mlartifacts, both in that folder), started and killed by the test."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(self.port)]
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 (the server holds it)
        # its own session: kill() ends the server and the workers it starts, nothing else
        self.process = subprocess.Popen(
            [*command, "--workers", "1"],
            cwd=self.folder,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=2).close()
                return
            except OSError:
                assert self.process.poll() is None, (self.folder / "server.log").read_text()
                assert time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path / "server")  # a tracking server holding its own artefacts
    running.folder.mkdir()
    running.start()
    yield running
    running.kill()


@pytest.mark.slow
def test_server_dying_mid_run_is_one_warning_and_its_run_is_closed_by_the_next(
    server, tmp_path, tiny_model_dir
):
    """The server killed while a stage's MLflow run is open: the local run finished with a
    traceback-free warning line at most, and the MLflow run stayed RUNNING for good. Now the
    run folder records the runs it opened, and the next command closes the left one."""
    from conftest import make_records, write_recipe
    from mlflow.tracking import MlflowClient

    path = write_recipe(
        tmp_path,
        tiny_model_dir,
        make_records(60),
        {"validation": 4, "test": 4},
        training={"max_steps": 40, "batch_size": 2, "max_seq_length": 64, "eval_every": 20},
        evaluation={"generation": {"max_new_tokens": 2}},
        tracking={
            "backends": ["mlflow"],
            "mlflow": {"tracking_uri": server.uri},
            "energy": {"enabled": False},
        },
    )
    run = tmp_path / "run"
    command = [sys.executable, "-m", "tunesmith.cli", "run", str(path), "-o", str(run)]
    environment = {**os.environ, "COLUMNS": "400"}  # the warning on one console line
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    log = run / "train" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (log.is_file() and len(log.read_text().splitlines()) >= 2):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    server.kill()
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0 and "Traceback" not in stderr, stderr
    warnings = [line for line in stderr.splitlines() if line.startswith("warning: tracking.")]
    assert len(warnings) == 1, stderr  # one line for the whole command, not one per stage
    assert f"{server.uri} failed (" in warnings[0] and "KILLED" in warnings[0]
    open_runs = (run / "tracking" / "mlflow-open-runs.json").read_text(encoding="utf-8")
    assert '"stage": "train"' in open_runs

    server.start()  # the same store, back
    client = MlflowClient(tracking_uri=server.uri)
    experiment = client.get_experiment_by_name("tunesmith").experiment_id
    (left,) = client.search_runs([experiment], filter_string="tags.`tunesmith.stage` = 'train'")
    assert left.info.status == "RUNNING"  # what the server knew when it died
    again = subprocess.run([*command, "--stages", "train"], capture_output=True, text=True)
    assert again.returncode == 0 and "warning: tracking" not in again.stderr, again.stderr
    closed = client.get_run(left.info.run_id)
    assert closed.info.status == "KILLED"
    assert "could not close it" in closed.data.tags["tunesmith.closed_by"]
    assert not (run / "tracking" / "mlflow-open-runs.json").exists()
    (new,) = client.search_runs(
        [experiment], filter_string="tags.`tunesmith.stage` = 'train' and status = 'FINISHED'"
    )
    curve = {r["step"]: r["loss"] for r in read_jsonl(log) if "loss" in r}
    logged = client.get_metric_history(new.info.run_id, "train/loss")
    assert {m.step: m.value for m in logged} == pytest.approx(curve) and len(curve) == 40


@pytest.mark.slow
def test_a_moved_run_folder_s_artefacts_are_served_by_mlflow_server_beside_its_store(tmp_path):
    """The run folder's default store, moved: `mlflow server` started in <run>/tracking with
    its defaults serves every artefact (the store held absolute file:// paths of the old
    place, so the moved folder's artefacts were not found)."""
    import shutil

    from mlflow.tracking import MlflowClient

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.mlflow_backend import MlflowTracker

    root = tmp_path / "box" / "exp1"
    (root / "eval").mkdir(parents=True)
    (root / "eval" / "metrics.json").write_text('{"tuned": {"rouge1": 0.3}}', encoding="utf-8")
    tracker = MlflowTracker(TrackingConfig(backends=["mlflow"]), StageRun(root, "evaluate", {}))
    tracker.log_artifact(root / "eval" / "metrics.json")
    tracker.close(failed=False)
    shutil.move(tmp_path / "box", tmp_path / "laptop")

    server = Server(tmp_path / "laptop" / "exp1" / "tracking")
    server.start()
    try:
        client = MlflowClient(tracking_uri=server.uri)
        assert [a.path for a in client.list_artifacts(tracker.run_id)] == ["metrics.json"]
        fetched = client.download_artifacts(tracker.run_id, "metrics.json", str(tmp_path))
        assert Path(fetched).read_text(encoding="utf-8") == '{"tuned": {"rouge1": 0.3}}'
    finally:
        server.kill()
