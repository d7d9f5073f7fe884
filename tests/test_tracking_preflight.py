"""A tracker that cannot work fails in one line, exit 2, before any stage writes anything."""

from __future__ import annotations

import socket

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
