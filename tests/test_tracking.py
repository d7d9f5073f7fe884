"""Trackers against the real libraries: MLflow, TensorBoard, W&B hold the run folder's figures."""

from __future__ import annotations

import json
import re
import time

import pytest

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import load_recipe
from tunesmith.config.tracking import TRACKER_NAMES
from tunesmith.pipeline import run_pipeline
from tunesmith.tracking import TRACKERS

ALL = list(TRACKER_NAMES)


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory, tiny_model_dir):
    """One tiny run logged to every registered backend at once."""
    from conftest import make_records, write_recipe

    folder = tmp_path_factory.mktemp("tracked")
    path = write_recipe(
        folder,
        tiny_model_dir,
        make_records(40),
        {"validation": 6, "test": 6},
        name="tracked",
        training={"max_steps": 6, "batch_size": 4, "eval_every": 3, "max_seq_length": 64},
        evaluation={"generation": {"max_new_tokens": 4}},
        tracking={"backends": ALL, "wandb": {"project": "tunesmith-test"}},
    )
    run_dir = RunDir(folder / "run")
    run_pipeline(load_recipe(path), run_dir)
    return run_dir


def _train_curve(run_dir, key):
    return {r["step"]: r[key] for r in read_jsonl(run_dir.train / "metrics.jsonl") if key in r}


def _eval_json(run_dir):
    return json.loads((run_dir.eval / "metrics.json").read_text(encoding="utf-8"))


def _artefacts(client, run_id, store_folder) -> set[str]:
    """What a run's artefact folder holds: for a local store, in mlartifacts/ beside it, at the
    path of its mlflow-artifacts: URI (what `mlflow server` started beside it serves)."""
    from urllib.parse import urlparse

    uri = urlparse(client.get_run(run_id).info.artifact_uri)
    assert uri.scheme == "mlflow-artifacts" and not uri.netloc  # no host, no absolute path
    folder = store_folder / "mlartifacts" / uri.path.lstrip("/")
    return {path.name for path in folder.iterdir()}


def test_schema_names_equal_the_registry():
    assert sorted(TRACKER_NAMES) == TRACKERS.names()


def _stages_run(run_dir) -> list[str]:
    stages = json.loads(run_dir.manifest_path.read_text(encoding="utf-8"))["stages"]
    assert {"data", "train", "evaluate", "report"} <= set(stages)
    return [name for name, entry in stages.items() if entry.get("status") == "done"]


def test_mlflow_holds_the_run_folder_figures(tracked_run):
    from mlflow.tracking import MlflowClient

    db = tracked_run.root / "tracking" / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.get_experiment_by_name("tunesmith")
    runs = {
        r.data.tags["tunesmith.stage"]: r for r in client.search_runs([experiment.experiment_id])
    }
    assert set(runs) == set(_stages_run(tracked_run))  # one MLflow run per stage that ran
    train = runs["train"]
    assert train.info.status == "FINISHED"
    assert train.data.params["training.max_steps"] == "6"
    history = client.get_metric_history(train.info.run_id, "train/loss")
    assert {m.step: m.value for m in history} == pytest.approx(_train_curve(tracked_run, "loss"))
    val = client.get_metric_history(train.info.run_id, "train/val_ppl")
    assert {m.step: m.value for m in val} == pytest.approx(_train_curve(tracked_run, "val_ppl"))
    evaluated = runs["evaluate"].data.metrics
    for variant in ("base", "tuned"):
        for name, value in _eval_json(tracked_run)[variant].items():
            assert evaluated[f"eval/{variant}/{name}"] == pytest.approx(value)
    artefacts = _artefacts(client, train.info.run_id, db.parent)
    assert {"adapter", "summary.json"} <= artefacts
    report = _artefacts(client, runs["report"].info.run_id, db.parent)
    assert report == {"report.html"}


def test_tensorboard_holds_the_run_folder_figures(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = tracked_run.root / "tracking" / "tensorboard"
    train = EventAccumulator(str(board / "train"))
    train.Reload()
    loss = {e.step: e.value for e in train.Scalars("train/loss")}
    assert loss == pytest.approx(_train_curve(tracked_run, "loss"), rel=1e-6)  # float32 events
    evaluated = EventAccumulator(str(board / "evaluate"))
    evaluated.Reload()
    for name, value in _eval_json(tracked_run)["tuned"].items():
        assert evaluated.Scalars(f"eval/tuned/{name}")[0].value == pytest.approx(value, rel=1e-6)


def test_wandb_offline_run_files_hold_the_figures(tracked_run):
    from wandb_records import history_and_summary

    runs = sorted((tracked_run.root / "tracking" / "wandb").glob("offline-run-*"))
    assert len(runs) == len(_stages_run(tracked_run))  # one W&B run per stage, grouped
    losses, summary = {}, {}
    for folder in runs:
        rows, final = history_and_summary(next(folder.glob("*.wandb")))
        losses.update({r["_step"]: r["train/loss"] for r in rows if "train/loss" in r})
        summary.update(final)
    assert losses == pytest.approx(_train_curve(tracked_run, "loss"))
    for name, value in _eval_json(tracked_run)["tuned"].items():
        assert summary[f"eval/tuned/{name}"] == pytest.approx(value)


def test_energy_per_stage_reaches_manifest_report_and_trackers(tracked_run):
    from mlflow.tracking import MlflowClient

    manifest = json.loads(tracked_run.manifest_path.read_text(encoding="utf-8"))
    train = manifest["stages"]["train"]["energy"]
    assert train["kwh"] > 0 and train["country"] == "USA"
    assert manifest["energy"]["headline"] == "rougeL"  # the task's headline (config/tasks.py)
    page = (tracked_run.report / "report.html").read_text(encoding="utf-8")
    assert "Energy and carbon" in page and train["method"] in page
    client = MlflowClient(tracking_uri=f"sqlite:///{tracked_run.root / 'tracking' / 'mlflow.db'}")
    (run,) = client.search_runs(
        [client.get_experiment_by_name("tunesmith").experiment_id],
        filter_string="tags.`tunesmith.stage` = 'train'",
    )
    assert run.data.metrics["train/energy/kwh"] == pytest.approx(train["kwh"])


def test_tensorboard_resume_drops_the_steps_after_the_checkpoint(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.tensorboard_backend import TensorboardTracker

    run = StageRun(tmp_path, "train", {"training.seed": 0})
    first = TensorboardTracker(TrackingConfig(), run)
    for step in range(1, 7):  # crashed after step 6, last checkpoint at step 3
        first.log_metrics({"train/loss": 10.0 - step}, step)
    first.close(failed=True)
    again = TensorboardTracker(TrackingConfig(), run)
    again.resume(3, [(step, {"train/loss": 10.0 - step}) for step in (1, 2, 3)])  # kept JSONL
    for step in (4, 5):
        again.log_metrics({"train/loss": 100.0 + step}, step)
    again.close(failed=False)
    events = EventAccumulator(str(tmp_path / "tracking" / "tensorboard" / "train"))
    events.Reload()
    curve = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert curve == [(1, 9.0), (2, 8.0), (3, 7.0), (4, 104.0), (5, 105.0)]


def test_tensorboard_stage_run_again_shows_only_its_own_events(tmp_path):
    """A stage run again in the same run folder (a changed recipe, `tunesmith evaluate RUN`)
    writes into the same log folder: its steps were appended to the earlier attempt's, so
    TensorBoard showed two curves zigzagging in one series and every step-0 figure twice."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.tensorboard_backend import TensorboardTracker

    run = StageRun(tmp_path, "train", {"training.seed": 0})
    for attempt, steps in ((0.0, (1, 2, 3, 4)), (100.0, (1, 2))):
        tracker = TensorboardTracker(TrackingConfig(), run)
        for step in steps:
            tracker.log_metrics({"train/loss": attempt + step}, step)
        tracker.log_metrics({"train/summary/steps": float(len(steps))}, None)
        tracker.close(failed=False)
    events = EventAccumulator(str(tmp_path / "tracking" / "tensorboard" / "train"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(1, 101.0), (2, 102.0)]
    assert [(e.step, e.value) for e in events.Scalars("train/summary/steps")] == [(0, 2.0)]
    # the text too, as TensorBoard's own server reads it (its plugin accumulator)
    from tensorboard.backend.event_processing import plugin_event_accumulator

    served = plugin_event_accumulator.EventAccumulator(str(events.path))
    served.Reload()
    assert len(served.Tensors("recipe/text_summary")) == 1


def test_tensorboard_attempt_in_the_same_second_is_read_after_the_earlier_one(tmp_path):
    """Readers take event files in name order: the second created, then host, pid and counter
    as text. An earlier attempt's file of the same second that sorted later (another host or
    pid, a counter of 9 against 10) was read after the new one's purge marker: both curves."""
    import time

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.tensorboard_backend import TensorboardTracker

    run = StageRun(tmp_path, "evaluate", {})
    folder = tmp_path / "tracking" / "tensorboard" / "evaluate"
    first = TensorboardTracker(TrackingConfig(), run)
    first.log_metrics({"eval/tuned/rouge1": 0.1}, None)
    first.close(failed=False)
    (written,) = folder.glob("events.out.tfevents.*")
    # as if written this second by a process whose name part sorts after this one's ('~')
    written.rename(folder / f"events.out.tfevents.{int(time.time()):010d}.~.1.9")
    again = TensorboardTracker(TrackingConfig(), run)
    again.log_metrics({"eval/tuned/rouge1": 0.2}, None)
    again.close(failed=False)
    events = EventAccumulator(str(folder))
    events.Reload()
    assert [e.value for e in events.Scalars("eval/tuned/rouge1")] == pytest.approx([0.2])


def test_tensorboard_recipe_table_shows_each_value_whole_as_text(tmp_path):
    """TensorBoard renders the recipe text as Markdown: a prompt template's newline ended its
    row (the next line showed as a key), a '|' cut the value, '*' and '<em>' were markup."""
    import html
    import re

    import numpy as np
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.plugins.text.text_plugin import text_array_to_html
    from tensorboard.util import tensor_util

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.tensorboard_backend import TensorboardTracker

    params = {
        "data.prompt_template": "Summarise:\n{description}",
        "data.system_prompt": "Answer *briefly* | no <em>HTML</em> & no \\* escapes",
        "data.train": "C:\\data\\set_[1].jsonl",
        "training.learning_rate": 0.0002,
    }
    TensorboardTracker(TrackingConfig(), StageRun(tmp_path, "data", params)).close(False)
    events = plugin_event_accumulator.EventAccumulator(
        str(tmp_path / "tracking" / "tensorboard" / "data")
    )
    events.Reload()
    (event,) = events.Tensors("recipe/text_summary")
    page = text_array_to_html(np.array(tensor_util.make_ndarray(event.tensor_proto)), True)
    body = page.split("<tbody>")[-1]  # the recipe table, inside the array's one-cell table
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>", body, re.S)
    shown = {key: value.replace("<br>", "\n").replace("<br />", "\n") for key, value in rows}
    assert shown == {key: html.escape(str(value), quote=False) for key, value in params.items()}


def test_tensorboard_names_every_artefact_of_a_stage(tmp_path):
    """Every artefact's path went to one text tag at step 0, of which TensorBoard's server
    shows one: the train stage named its adapter, not summary.json. Each path is the one in
    the run folder: an absolute one named the training box's folder once it was moved."""
    from tensorboard.backend.event_processing import plugin_event_accumulator

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.tensorboard_backend import TensorboardTracker

    tracker = TensorboardTracker(TrackingConfig(), StageRun(tmp_path, "train", {}))
    written = [tmp_path / "train" / "summary.json", tmp_path / "train" / "adapter"]
    for path in written:
        tracker.log_artifact(path)
    tracker.close(failed=False)
    events = plugin_event_accumulator.EventAccumulator(
        str(tmp_path / "tracking" / "tensorboard" / "train")
    )
    events.Reload()
    tags = [tag for tag in events.Tags()["tensors"] if tag.startswith("artefacts")]
    shown = [events.Tensors(tag) for tag in tags]
    assert all(len(texts) == 1 for texts in shown)  # one text per tag and step
    named = {t[0].tensor_proto.string_val[0].decode() for t in shown}
    assert named == {"train/summary.json", "train/adapter"}  # in the run folder, moved or not


def test_a_diverged_trainings_metrics_log_is_standard_json(tmp_path):
    """train/metrics.jsonl was written with json.dumps: a NaN loss or an infinite
    perplexity was the literal NaN / Infinity, which jq and JavaScript refuse. Null now, read
    back as NaN by the tracker (a reader averaging the losses gets NaN, not a TypeError)."""
    import math

    from tunesmith.tracking.session import open_trackers

    tracker = open_trackers(tmp_path / "metrics.jsonl")
    tracker.log({"step": 1, "loss": 2.5})
    tracker.log({"step": 2, "loss": math.nan, "val_ppl": math.inf})

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    lines = (tmp_path / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line, parse_constant=refuse) for line in lines]
    assert rows[1] == {"step": 2, "loss": None, "val_ppl": None}
    back = tracker.records()
    assert back[0] == {"step": 1, "loss": 2.5}
    assert math.isnan(back[1]["loss"]) and math.isnan(back[1]["val_ppl"])


def test_resumed_training_replays_the_kept_curve_into_new_tracker_runs(tmp_path):
    from tunesmith.tracking.fanout import FanOutTracker
    from tunesmith.tracking.jsonl import JsonlTracker

    class Recorder:
        def __init__(self):
            self.replayed = None

        def log_metrics(self, metrics, step):
            pass

        def resume(self, step, history):
            self.replayed = (step, history)

    jsonl = JsonlTracker(tmp_path / "metrics.jsonl")
    for step in range(1, 6):
        jsonl.log({"step": step, "loss": float(step)})
    backend = Recorder()
    FanOutTracker(jsonl, [backend], "train").truncate_after(3)
    assert backend.replayed == (3, [(s, {"train/loss": float(s)}) for s in (1, 2, 3)])
    assert [r["step"] for r in jsonl.records()] == [1, 2, 3]


def test_evaluation_intervals_in_compare_json_become_metrics(tmp_path):
    from tunesmith.artifacts import write_json
    from tunesmith.tracking.outputs import OUTPUTS

    run_dir = RunDir(tmp_path)
    row = {"base": 0.2, "tuned": 0.3, "delta": 0.1, "relative": 0.5, "better": True}
    row |= {"ci_low": 0.04, "ci_high": 0.16, "p_value": 0.01, "n": 50}
    write_json(run_dir.eval / "compare.json", {"sample_size": 50, "metrics": {"rouge1": row}})
    write_json(run_dir.eval / "metrics.json", {"sample_size": 50, "tuned": {"rouge1": 0.3}})
    ((figures, files),) = OUTPUTS.get("evaluate")(run_dir)
    assert figures["eval/compare/rouge1/ci_low"] == 0.04
    assert figures["eval/compare/rouge1/p_value"] == 0.01
    assert figures["eval/compare/rouge1/n"] == 50
    assert figures["eval/tuned/rouge1"] == 0.3 and figures["eval/sample_size"] == 50
    assert "eval/compare/rouge1/better" not in figures  # booleans are not metrics
    assert [f.name for f in files] == ["metrics.json", "compare.json"]


def test_recipe_keys_mlflow_refuses_are_logged_under_names_it_takes(tmp_path, tiny_model_dir):
    """data.fill_missing is keyed by the data's own field names, which may hold any character:
    one MLflow refuses ('(' here) failed the params' log_batch, so every stage of the run, with
    an error blaming the tracking URI and the MLflow run left RUNNING."""
    import mlflow
    from conftest import make_records, write_recipe

    path = write_recipe(
        tmp_path,
        tiny_model_dir,
        make_records(20),
        {"validation": 4, "test": 4},
        **{"data.fill_missing": {"notes (en)": "none", "a/../b": "x"}},
        tracking={"backends": ["mlflow"], "energy": {"enabled": False}},
    )
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(load_recipe(path), run_dir, only=["data"])
    mlflow.set_tracking_uri(f"sqlite:///{run_dir.root / 'tracking' / 'mlflow.db'}")
    (run,) = mlflow.search_runs(experiment_names=["tunesmith"], output_format="list")
    assert run.info.status == "FINISHED"
    assert run.data.params["data.fill_missing.notes _en_"] == "none"
    assert run.data.params["data.fill_missing.a_.._b"] == "x"
    assert run.data.params["data.input_field"] == "description"  # valid names unchanged
    assert run.data.metrics["data/examples/train"] == 12


def test_runs_sharing_an_mlflow_store_keep_their_artefacts_beside_it(tmp_path):
    """With one sqlite store for several run folders, the experiment's artefact root was the
    first run folder's tracking/mlartifacts: every later run's artefacts went there, and were
    gone once that folder was deleted."""
    import shutil

    from mlflow.tracking import MlflowClient

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.mlflow_backend import MlflowTracker

    store = tmp_path / "store" / "mlflow.db"
    config = TrackingConfig(backends=["mlflow"], mlflow={"tracking_uri": f"sqlite:///{store}"})
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "card.json").write_text("{}", encoding="utf-8")
        tracker = MlflowTracker(config, StageRun(tmp_path / name, "data", {}))
        tracker.log_artifact(tmp_path / name / "card.json")
        tracker.close(failed=False)
    shutil.rmtree(tmp_path / "first")
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    assert _artefacts(client, tracker.run_id, store.parent) == {"card.json"}


def test_wandb_offline_run_holds_copies_of_its_artefacts(tmp_path):
    """run.save symlinked the run folder's files into the offline run: copied elsewhere for
    `wandb sync` its links dangled, and synced later it uploaded what the files had become
    (here: changed, then deleted). A '[' in the run folder's path matched nothing at all."""
    from wandb.proto import wandb_internal_pb2
    from wandb_records import payloads

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.wandb_backend import WandbTracker

    root = tmp_path / "runs[1]"
    (root / "eval" / "adapter").mkdir(parents=True)
    (root / "eval" / "metrics.json").write_text('{"rouge1": 0.3}', encoding="utf-8")
    (root / "eval" / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    config = TrackingConfig(backends=["wandb"], wandb={"project": "tunesmith-test"})
    tracker = WandbTracker(config, StageRun(root, "evaluate", {}))
    tracker.log_artifact(root / "eval" / "metrics.json")
    tracker.log_artifact(root / "eval" / "adapter")
    tracker.close(failed=False)
    (root / "eval" / "metrics.json").write_text('{"rouge1": 0.9}', encoding="utf-8")
    (root / "eval" / "adapter" / "adapter_config.json").unlink()

    (offline,) = (root / "tracking" / "wandb").glob("offline-run-*")
    saved = offline / "files" / "metrics.json"
    assert not saved.is_symlink() and saved.read_text(encoding="utf-8") == '{"rouge1": 0.3}'
    assert (offline / "files" / "adapter" / "adapter_config.json").read_text() == "{}"
    listed = set()
    for payload in payloads(next(offline.glob("*.wandb"))):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") == "files":
            listed |= {f.path for f in record.files.files}
    assert {"metrics.json", "adapter/adapter_config.json"} <= listed  # what `wandb sync` sends


def test_a_run_stopped_by_sigterm_marks_its_tracker_runs_failed(tmp_path, tiny_model_dir):
    """kill / `timeout` / a scheduler's time limit send SIGTERM, which ended the process on
    the spot: the MLflow run of the stage stayed RUNNING for good, the W&B offline run had no
    exit, the manifest said 'running'. Now SIGTERM stops the run as Ctrl-C does."""
    import signal
    import subprocess
    import sys
    import time

    import mlflow
    from conftest import make_records, write_recipe
    from wandb.proto import wandb_internal_pb2
    from wandb_records import payloads

    path = write_recipe(
        tmp_path,
        tiny_model_dir,
        make_records(200),
        {"validation": 4, "test": 4},
        training={"max_steps": 5000, "batch_size": 2, "max_seq_length": 64, "eval_every": 1000},
        tracking={"backends": ["mlflow", "wandb"], "energy": {"enabled": False}},
    )
    run = tmp_path / "run"
    command = [sys.executable, "-m", "tunesmith.cli", "run", str(path), "-o", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = run / "train" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (log.is_file() and len(log.read_text().splitlines()) >= 3):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143 and "Traceback" not in stderr, stderr  # 128 + SIGTERM
    assert "interrupted; run the same command again to resume" in stderr
    mlflow.set_tracking_uri(f"sqlite:///{run / 'tracking' / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["tunesmith"], output_format="list")
    status = {r.data.tags["tunesmith.stage"]: r.info.status for r in runs}
    assert status == {"data": "FINISHED", "train": "FAILED"}
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stages"]["train"]["status"] == "failed"
    exits = []
    for offline in (run / "tracking" / "wandb").glob("offline-run-*"):
        for payload in payloads(next(offline.glob("*.wandb"))):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            if record.WhichOneof("record_type") == "exit":
                exits.append(record.exit.exit_code)
    assert sorted(exits) == [0, 1]  # data finished, train failed


def test_a_stage_failing_while_its_outputs_are_logged_marks_its_tracker_runs_failed(
    tmp_path, tiny_model_dir, monkeypatch
):
    """The tracker runs were marked a success before the stage's outputs were logged: an
    artefact a tracker refused failed the stage (manifest: failed), yet MLflow said FINISHED."""
    import mlflow
    from conftest import make_records, write_recipe

    from tunesmith.errors import UserError
    from tunesmith.tracking.tensorboard_backend import TensorboardTracker

    def refuse(self, path):
        raise UserError(f"tracking.tensorboard.log_dir: cannot record {path.name}")

    monkeypatch.setattr(TensorboardTracker, "log_artifact", refuse)
    path = write_recipe(
        tmp_path,
        tiny_model_dir,
        make_records(20),
        {"validation": 4, "test": 4},
        tracking={"backends": ["mlflow", "tensorboard"], "energy": {"enabled": False}},
    )
    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(UserError, match="cannot record data_card.json"):
        run_pipeline(load_recipe(path), run_dir, only=["data"])
    assert run_dir.stage_entry("data")["status"] == "failed"
    mlflow.set_tracking_uri(f"sqlite:///{run_dir.root / 'tracking' / 'mlflow.db'}")
    (run,) = mlflow.search_runs(experiment_names=["tunesmith"], output_format="list")
    assert run.info.status == "FAILED"


def test_run_folders_sharing_a_tensorboard_log_dir_keep_their_own_curves(tmp_path):
    """A recipe's log_dir shared by run folders (to compare them in one TensorBoard) put every
    run folder's train stage into <log_dir>/train: the second run's purge marker hid the
    first run's curve."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.tensorboard_backend import TensorboardTracker

    config = TrackingConfig(tensorboard={"log_dir": str(tmp_path / "board")})
    for name, loss in (("first", 1.0), ("second", 2.0)):
        tracker = TensorboardTracker(config, StageRun(tmp_path / name, "train", {}))
        tracker.log_metrics({"train/loss": loss}, 1)
        tracker.close(failed=False)
    for name, loss in (("first", 1.0), ("second", 2.0)):
        events = EventAccumulator(str(tmp_path / "board" / name / "train"))
        events.Reload()
        assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(1, loss)]


def test_an_mlflow_run_left_running_is_closed_by_the_next_command_on_the_folder(tmp_path):
    """A stage's MLflow run that its process could not close (kill -9, or its server gone)
    stayed RUNNING for good. The folder records the runs it opened; the next command closes
    those still running as KILLED before its first stage, even when it then skips them all."""
    from mlflow.tracking import MlflowClient

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking import close_left_open
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.mlflow_backend import MlflowTracker, tracking_uri

    config = TrackingConfig(backends=["mlflow"])
    finished = MlflowTracker(config, StageRun(tmp_path, "data", {}))
    finished.close(failed=False)
    left = MlflowTracker(config, StageRun(tmp_path, "train", {}))  # never closed: killed
    close_left_open(config, tmp_path)
    client = MlflowClient(tracking_uri=tracking_uri(config, tmp_path))
    assert client.get_run(finished.run_id).info.status == "FINISHED"
    closed = client.get_run(left.run_id)
    assert closed.info.status == "KILLED" and closed.info.end_time is not None
    assert "could not close it" in closed.data.tags["tunesmith.closed_by"]
    assert not (tmp_path / "tracking" / "mlflow-open-runs.json").exists()


def _wandb_group(offline_run) -> str:
    """The group of an offline W&B run, once its run record is on disk (W&B's core process
    writes the file after `finish` returns)."""
    import time

    from wandb.proto import wandb_internal_pb2
    from wandb_records import payloads

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for payload in payloads(next(offline_run.glob("*.wandb"))):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            if record.WhichOneof("record_type") == "run":
                return record.run.run_group
        time.sleep(0.2)
    raise AssertionError(f"no run record in {offline_run}")


def test_two_projects_run_folders_of_one_name_are_told_apart(tmp_path, tiny_model_dir):
    """The W&B group (and the folder in a shared TensorBoard log_dir) was the run folder's
    name: two projects' runs/exp1 landed in one group, and hid each other's curves. Now it is
    the name and a random id the run folder keeps, the same for all its stages."""
    from conftest import make_records, write_recipe
    from mlflow.tracking import MlflowClient

    from tunesmith.tracking import observe_stage

    board = tmp_path / "board"
    tracking = {
        "backends": ["wandb", "tensorboard", "mlflow"],
        "tensorboard": {"log_dir": str(board)},
        "energy": {"enabled": False},
    }
    groups = {}
    for project in ("alpha", "beta"):
        (tmp_path / project).mkdir()
        rows, split = make_records(8), {"validation": 2, "test": 2}
        path = write_recipe(tmp_path / project, tiny_model_dir, rows, split, tracking=tracking)
        run_dir = RunDir(tmp_path / project / "runs" / "exp1")
        for stage in ("custom", "other"):
            with observe_stage(load_recipe(path), run_dir, stage):
                pass
        kept = json.loads(run_dir.manifest_path.read_text(encoding="utf-8"))["tracking_group"]
        offline = sorted((run_dir.root / "tracking" / "wandb").glob("offline-run-*"))
        assert [_wandb_group(run) for run in offline] == [kept, kept]
        db = f"sqlite:///{run_dir.root / 'tracking' / 'mlflow.db'}"
        client = MlflowClient(tracking_uri=db)
        runs = client.search_runs([client.get_experiment_by_name("tunesmith").experiment_id])
        assert {r.data.tags["tunesmith.group"] for r in runs} == {kept}
        groups[project] = kept
    assert groups["alpha"] != groups["beta"]
    assert all(re.fullmatch(r"exp1-[0-9a-f]{8}", group) for group in groups.values())
    assert sorted(p.name for p in board.iterdir()) == sorted(groups.values())


@pytest.mark.parametrize("store", ["sqlite (default)", "folder store"])
def test_a_moved_run_folder_keeps_its_mlflow_artefacts(store, tmp_path, monkeypatch):
    """A local store recorded each run's artefacts by absolute file:// path: a run folder
    rsynced off the training box pointed every artefact at the box's path. Now the store
    holds MLflow's proxied mlflow-artifacts: location, whose files sit beside the store."""
    import shutil

    from mlflow.tracking import MlflowClient

    from tunesmith.config.tracking import TrackingConfig
    from tunesmith.tracking.base import StageRun
    from tunesmith.tracking.mlflow_backend import MlflowTracker

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    root = tmp_path / "box" / "exp1"
    folder_store = {"tracking_uri": f"file:{root}/tracking/mlruns"}
    settings = {} if store.startswith("sqlite") else folder_store
    (root / "train" / "adapter").mkdir(parents=True)
    (root / "train" / "summary.json").write_text('{"steps": 3}', encoding="utf-8")
    (root / "train" / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    config = TrackingConfig(backends=["mlflow"], mlflow=settings)
    tracker = MlflowTracker(config, StageRun(root, "train", {}))
    tracker.log_artifact(root / "train" / "summary.json")
    tracker.log_artifact(root / "train" / "adapter")
    tracker.close(failed=False)
    shutil.move(tmp_path / "box", tmp_path / "laptop")

    moved = tmp_path / "laptop" / "exp1" / "tracking"
    uri = f"sqlite:///{moved / 'mlflow.db'}" if store.startswith("sqlite") else moved / "mlruns"
    client = MlflowClient(tracking_uri=str(uri))
    assert str(tmp_path) not in client.get_run(tracker.run_id).info.artifact_uri
    assert _artefacts(client, tracker.run_id, moved) == {"summary.json", "adapter"}


def test_a_trial_its_pruner_stopped_ends_its_tracker_runs_as_finished(tmp_path, tiny_model_dir):
    """A search trial stopped by its pruner (an observer raising optuna.TrialPruned) ended its
    MLflow run FAILED and its W&B run with exit code 1, like a crash."""
    from conftest import make_records, write_recipe
    from mlflow.tracking import MlflowClient
    from wandb.proto import wandb_internal_pb2
    from wandb_records import payloads

    from tunesmith.tracking import observe_stage, open_trackers
    from tunesmith.tracking.observers import observing

    class Pruned(Exception):
        pass

    def prune(record: dict) -> None:
        raise Pruned(f"pruned at step {record['step']}")

    tracking = {"backends": ["mlflow", "wandb"], "energy": {"enabled": False}}
    rows, split = make_records(8), {"validation": 2, "test": 2}
    recipe = load_recipe(write_recipe(tmp_path, tiny_model_dir, rows, split, tracking=tracking))
    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(Pruned), observing(prune), observe_stage(recipe, run_dir, "train"):
        open_trackers(run_dir.root / "metrics.jsonl").log({"step": 1, "loss": 2.0})
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir.root / 'tracking' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("tunesmith").experiment_id])
    assert run.info.status == "FINISHED" and run.data.metrics["train/loss"] == 2.0
    (offline,) = (run_dir.root / "tracking" / "wandb").glob("offline-run-*")
    exits = []
    deadline = time.monotonic() + 60  # W&B's core writes the exit record after finish returns
    while not exits and time.monotonic() < deadline:
        for payload in payloads(next(offline.glob("*.wandb"))):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            if record.WhichOneof("record_type") == "exit":
                exits.append(record.exit.exit_code)
        time.sleep(0.2)
    assert exits == [0]
