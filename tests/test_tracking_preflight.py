"""A tracker that cannot work fails in one line, exit 2, before any stage writes anything."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from test_cli import assert_user_error, tunesmith

from tunesmith.config.tracking import TRACKER_NAMES
from tunesmith.errors import UserError
from tunesmith.tracking import TRACKERS, preflight


def _closed_port() -> int:
    with socket.socket() as probe:  # bound then released: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _web_server(handler):
    """A web server on a free local port for one test, stopped after it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _FileServer(SimpleHTTPRequestHandler):
    """What `python -m http.server` answers: 404 pages for MLflow's API."""

    def log_message(self, *args) -> None:
        pass


def _answering(status: int, body: dict):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    return Handler


def _mlflow_at(uri: str):
    from tunesmith.config.tracking import TrackingConfig

    return TrackingConfig(backends=["mlflow"], mlflow={"tracking_uri": uri})


def _recipe(tmp_path, tiny_model_dir, tracking: dict):
    from conftest import make_records, write_jsonl

    data = write_jsonl(tmp_path / "data.jsonl", make_records(20))
    path = tmp_path / "recipe.yaml"
    recipe = {
        "task": "summarization",
        "model": str(tiny_model_dir),
        "data": {"train": str(data), "input_field": "description", "output_field": "synopsis"},
        "tracking": tracking,
    }
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def test_unreachable_mlflow_uri_stops_run_before_any_stage(tmp_path, tiny_model_dir):
    uri = f"http://127.0.0.1:{_closed_port()}"
    recipe = _recipe(
        tmp_path, tiny_model_dir, {"backends": ["mlflow"], "mlflow": {"tracking_uri": uri}}
    )
    out = tmp_path / "run"
    done = tunesmith("run", recipe, "--output", out)
    assert_user_error(done, "tracking.mlflow.tracking_uri", uri, "not reachable")
    assert not (out / "data").exists()  # nothing ran
    assert_user_error(tunesmith("validate", recipe), "not reachable")


def test_web_server_that_is_not_mlflow_stops_run_before_any_stage(tmp_path, tiny_model_dir):
    with _web_server(_FileServer) as uri:
        recipe = _recipe(
            tmp_path, tiny_model_dir, {"backends": ["mlflow"], "mlflow": {"tracking_uri": uri}}
        )
        out = tmp_path / "run"
        done = tunesmith("run", recipe, "--output", out)
        answered = "not an MLflow tracking server (GET /api/2.0/mlflow/experiments/get-by-name"
        assert_user_error(done, "tracking.mlflow.tracking_uri", uri, answered, "HTTP 404")
        assert not (out / "data").exists()  # nothing ran
        assert_user_error(tunesmith("validate", recipe), uri, "not an MLflow tracking server")


def test_server_that_accepts_but_never_answers_is_refused(tmp_path):
    with socket.socket() as silent:  # connections complete in the backlog; no reply ever comes
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(UserError, match=f"tracking_uri: {uri} did not answer within 3 s"):
            preflight(_mlflow_at(uri), tmp_path)


class _Hangup(BaseHTTPRequestHandler):
    def handle(self) -> None:  # reads nothing, answers nothing: the connection just closes
        pass


def test_server_that_hangs_up_is_refused_in_one_line(tmp_path):
    with _web_server(_Hangup) as uri, pytest.raises(UserError) as raised:
        preflight(_mlflow_at(uri), tmp_path)
    message = str(raised.value)
    assert message.startswith(f"tracking.mlflow.tracking_uri: {uri} failed (")
    assert "closed connection without response" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no experiment"}),
        (200, {"experiment": {"experiment_id": "1", "name": "tunesmith"}}),
    ],
    ids=["new-experiment", "existing-experiment"],
)
def test_server_answering_as_mlflow_passes(status, body, tmp_path):
    with _web_server(_answering(status, body)) as uri:
        preflight(_mlflow_at(uri), tmp_path)


def test_json_api_that_is_not_mlflow_is_refused(tmp_path):
    refused = pytest.raises(UserError, match="not an MLflow tracking server.*HTTP 404")
    with _web_server(_answering(404, {"detail": "Not Found"})) as uri, refused:
        preflight(_mlflow_at(uri), tmp_path)


def _warnings(capsys) -> list[str]:
    """The console's warnings, each one line again (the console wraps at its width)."""
    said = " ".join(capsys.readouterr().err.split())
    return [f"warning:{text}".strip() for text in said.split("warning:")[1:]]


def test_mlflow_failing_when_a_stage_opens_its_run_is_one_warning(tmp_path, capsys):
    """The pre-flight passed, then the server went (here: was never MLflow). Tracking copies
    what the run folder keeps: the stage goes on, told once."""
    from tunesmith.tracking.base import StageRun

    with _web_server(_FileServer) as uri:
        tracker = TRACKERS.get("mlflow").open(_mlflow_at(uri), StageRun(tmp_path, "train", {}))
        tracker.log_metrics({"train/loss": 1.0}, step=1)
        tracker.close(failed=False)
    (warning,) = _warnings(capsys)
    assert warning.startswith(f"warning: tracking.mlflow.tracking_uri: {uri} failed (")
    assert "404" in warning and warning.endswith("this command goes on without MLflow")


def test_mlflow_server_gone_mid_run_is_one_warning_and_not_waited_on_again(
    tmp_path, monkeypatch, capsys
):
    """A server gone mid-stage stopped the stage (exit 2) after the local run had trained:
    now one warning line, and neither this stage nor a later one calls that store again."""
    from mlflow.tracking import MlflowClient

    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.mlflow_open_runs import listed

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setattr("tunesmith.tracking.mlflow_backend._FAILED_STORES", set())
    tracker = TRACKERS.get("mlflow").open(_mlflow_at(None), StageRun(tmp_path, "train", {}))
    assert [r["run_id"] for r in listed(tmp_path)] == [tracker.run_id]
    gone = f"http://127.0.0.1:{_closed_port()}"
    tracker.client = MlflowClient(tracking_uri=gone)  # the store stops answering
    tracker.log_metrics({"train/loss": 1.0}, step=1)
    tracker.client = None  # neither this stage run nor a later one calls the failed store
    tracker.log_metrics({"train/loss": 0.9}, step=2)
    tracker.close(failed=False)
    later = TRACKERS.get("mlflow").open(_mlflow_at(None), StageRun(tmp_path, "evaluate", {}))
    later.log_metrics({"eval/tuned/rouge1": 0.3}, step=None)
    later.close(failed=False)
    (warning,) = _warnings(capsys)
    assert re.search(r"tracking_uri: .* failed \(.*Connection refused\); this command", warning)
    assert f"the MLflow run {tracker.run_id} it opened is closed as KILLED" in warning
    assert [r["run_id"] for r in listed(tmp_path)] == [tracker.run_id]  # for the next command


def test_an_artefact_upload_answered_with_an_error_status_is_one_warning(
    tmp_path, monkeypatch, capsys
):
    """MLflow passes an artefact upload's HTTP error (a proxy's 502 in front of a server that
    went away) on as requests' HTTPError, which escaped as a traceback."""
    import requests

    from tunesmith.tracking.base import StageRun

    monkeypatch.setattr("tunesmith.tracking.mlflow_backend._FAILED_STORES", set())

    class Refusing:
        def log_artifact(self, path, artifact_path=None):
            raise requests.HTTPError("502 Server Error: Bad Gateway for url: http://x/api")

    tracker = TRACKERS.get("mlflow").open(_mlflow_at(None), StageRun(tmp_path, "train", {}))
    monkeypatch.setattr(tracker, "_artefacts", Refusing)
    (tmp_path / "summary.json").write_text("{}", encoding="utf-8")
    tracker.log_artifact(tmp_path / "summary.json")
    tracker.close(failed=False)
    (warning,) = _warnings(capsys)
    assert "failed (502 Server Error: Bad Gateway for url: http://x/api)" in warning


def test_tracker_runs_opened_are_closed_when_a_later_one_fails(
    tmp_path, tiny_model_dir, monkeypatch
):
    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.tracking import observe_stage
    from tunesmith.tracking.tensorboard_backend import TensorboardTracker
    from tunesmith.tracking.wandb_backend import WandbTracker

    closed = []
    real_close = TensorboardTracker.close

    def close(self, failed: bool) -> None:
        closed.append(failed)
        real_close(self, failed)

    def refuse(self, config, run) -> None:
        raise UserError("tracking.wandb: cannot start")

    monkeypatch.setattr(TensorboardTracker, "close", close)
    monkeypatch.setattr(WandbTracker, "__init__", refuse)
    tracking = {
        "backends": ["tensorboard", "wandb"],
        "tensorboard": {"log_dir": str(tmp_path / "board")},
    }
    recipe = load_recipe(_recipe(tmp_path, tiny_model_dir, tracking))
    stage = observe_stage(recipe, RunDir(tmp_path / "run"), "train")
    with pytest.raises(UserError, match="tracking.wandb: cannot start"), stage:
        pass
    assert closed == [True]  # the TensorBoard run opened first is closed, marked failed


def test_unknown_tracker_is_a_recipe_error(tmp_path, tiny_model_dir):
    recipe = _recipe(tmp_path, tiny_model_dir, {"backends": ["mlfow"]})
    assert_user_error(tunesmith("validate", recipe), "tracking.backends", "mlflow")


def test_validate_names_the_chosen_trackers(tmp_path, tiny_model_dir):
    recipe = _recipe(tmp_path, tiny_model_dir, {"backends": ["tensorboard", "mlflow"]})
    done = tunesmith("validate", recipe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tracking: ok (jsonl, tensorboard, mlflow)" in done.stdout + done.stderr


@pytest.mark.parametrize("name", TRACKERS.names())
def test_missing_library_is_named_with_its_install_command(name, tmp_path, monkeypatch):
    from tunesmith.config.tracking import TrackingConfig

    package = TRACKERS.get(name).package
    real = __import__("importlib.util").util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda mod, *a: None if mod == package else real(mod, *a)
    )
    with pytest.raises(UserError, match=f"'{name}' needs the '{package}' package.*tracking"):
        preflight(TrackingConfig(backends=[name]), tmp_path)


def test_every_schema_name_is_registered():
    assert all(name in TRACKERS for name in TRACKER_NAMES)


UNDER_A_FILE = {  # backend -> (its tracking section, the run folder), given a file `blocker`
    "tensorboard": lambda blocker, run: (
        {"backends": ["tensorboard"], "tensorboard": {"log_dir": f"{blocker}/tb"}},
        run,
    ),
    "mlflow-sqlite": lambda blocker, run: (
        {"backends": ["mlflow"], "mlflow": {"tracking_uri": f"sqlite:///{blocker}/m.db"}},
        run,
    ),
    "mlflow-file-store": lambda blocker, run: (
        {"backends": ["mlflow"], "mlflow": {"tracking_uri": f"file:{blocker}/mlruns"}},
        run,
    ),
    "wandb": lambda blocker, run: ({"backends": ["wandb"]}, blocker / "run"),  # in the run folder
}


@pytest.mark.parametrize("case", UNDER_A_FILE)
def test_local_store_under_a_file_is_refused(case, tmp_path, monkeypatch):
    from tunesmith.config.tracking import TrackingConfig

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("kept\n", encoding="utf-8")
    tracking, root = UNDER_A_FILE[case](blocker, tmp_path / "run")
    key = case.split("-")[0]
    with pytest.raises(UserError, match=f"tracking.{key}.*{blocker} is a file, not a folder"):
        preflight(TrackingConfig(**tracking), root)
    assert blocker.read_text(encoding="utf-8") == "kept\n"


def test_tensorboard_log_dir_under_a_file_stops_validate_and_run(tmp_path, tiny_model_dir):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("kept\n", encoding="utf-8")
    tracking = {"backends": ["tensorboard"], "tensorboard": {"log_dir": f"{blocker}/tb"}}
    recipe = _recipe(tmp_path, tiny_model_dir, tracking)
    out = tmp_path / "run"
    done = tunesmith("validate", recipe)
    assert_user_error(done, "tracking.tensorboard.log_dir", f"{blocker}/tb", "is a file")
    assert_user_error(tunesmith("run", recipe, "--output", out), "tracking.tensorboard.log_dir")
    assert not (out / "data").exists()
    assert blocker.read_text(encoding="utf-8") == "kept\n"


def test_mlflow_folder_store_refused_by_mlflow_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = f"file:{tmp_path / 'mlruns'}"
    with pytest.raises(UserError, match=f"tracking_uri: {uri} is a folder store.*sqlite"):
        preflight(_mlflow_at(uri), tmp_path)


MLFLOW_HTTP = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
)


@pytest.fixture
def mlflow_http_unset(monkeypatch):
    """MLflow's HTTP variables unset for the test and restored after it (set first so that
    monkeypatch records them, then whatever the tracker sets is undone too)."""
    for name in MLFLOW_HTTP:
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)
    return monkeypatch


def _open_without_server(monkeypatch, tmp_path, uri) -> dict:
    """Open a tracker whose calls reach no server; MLflow's HTTP settings while it opened."""
    from mlflow import environment_variables as env

    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.mlflow_backend import MlflowTracker

    seen = {}

    def record(self, config, run) -> None:
        seen.update({name: getattr(env, name).get() for name in MLFLOW_HTTP})

    monkeypatch.setattr(MlflowTracker, "_open", record)
    MlflowTracker(_mlflow_at(uri), StageRun(tmp_path, "train", {}))
    return seen


def test_an_mlflow_server_gets_bounded_http_retries_and_keeps_the_users_own(
    tmp_path, mlflow_http_unset
):
    """A server that dies mid-run: MLflow's defaults retry for minutes, tunesmith's for < 30 s,
    unless the user chose a value (kept)."""
    mlflow_http_unset.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")  # the user's own
    before = dict(os.environ)
    seen = _open_without_server(mlflow_http_unset, tmp_path, f"http://127.0.0.1:{_closed_port()}")
    assert seen == {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": 2,
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": 1,
        "MLFLOW_HTTP_REQUEST_TIMEOUT": 60,
    }
    assert dict(os.environ) == before  # only during the tracker's calls


def test_a_local_mlflow_store_leaves_http_settings_alone(tmp_path, mlflow_http_unset):
    _open_without_server(mlflow_http_unset, tmp_path, None)  # sqlite in the run folder
    assert not any(name in os.environ for name in MLFLOW_HTTP)


def test_mlflow_http_bounds_hold_only_during_its_calls(tmp_path, mlflow_http_unset):
    """MLflow's retry and timeout variables are bounded while the tracker calls the server and
    restored after: they were set in os.environ for the rest of the process (later runs, the
    UI server, tune trials). A value the user set is kept, and still there afterwards."""
    import mlflow.utils.rest_utils as rest_utils

    from tunesmith.tracking.base import StageRun

    mlflow_http_unset.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")  # the user's own
    before = dict(os.environ)
    seen = []
    real = rest_utils._get_http_response_with_retries

    def recording(method, url, max_retries, backoff_factor, *args, **kwargs):
        seen.append((max_retries, backoff_factor, kwargs["timeout"]))
        return real(method, url, max_retries, backoff_factor, *args, **kwargs)

    mlflow_http_unset.setattr(rest_utils, "_get_http_response_with_retries", recording)
    with _web_server(_FileServer) as uri:  # a warning, the stage goes on
        TRACKERS.get("mlflow").open(_mlflow_at(uri), StageRun(tmp_path, "train", {}))
    assert seen and set(seen) == {(2, 1, 7)}
    assert dict(os.environ) == before


def test_an_unreachable_tracking_database_is_one_line_with_its_password_hidden(tmp_path):
    """MLflow retried an unreachable database for minutes: validate said ok and run hung."""
    uri = f"postgresql://me:secret@127.0.0.1:{_closed_port()}/mlflow"
    with pytest.raises(UserError) as raised:
        preflight(_mlflow_at(uri), tmp_path)
    message = str(raised.value)
    assert message.startswith("tracking.mlflow.tracking_uri: postgresql://me:***@127.0.0.1:")
    assert "cannot be opened (" in message and "secret" not in message and "\n" not in message


def test_a_scheme_mlflow_has_no_store_for_is_refused_up_front(tmp_path):
    with pytest.raises(UserError, match=r"bogus://x: MLflow has no tracking store for 'bogus' "):
        preflight(_mlflow_at("bogus://x"), tmp_path)


def test_a_tracking_database_that_answers_passes(tmp_path):
    from pg_server import Cluster, server_bin

    bindir = server_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (.ci/install_postgres.sh does it)")
    cluster = Cluster(bindir).start()
    try:
        preflight(_mlflow_at(cluster.url), tmp_path)
    finally:
        cluster.stop()
