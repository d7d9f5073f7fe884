"""A search (`tunesmith tune`) and a run group (`tunesmith group`) as one thing in the
trackers: one MLflow store and parent run with the trial / member stage runs nested under it,
one W&B group, one TensorBoard folder."""

from __future__ import annotations

import json

import yaml
from tune_helpers import search_recipe

from tunesmith.config import load_recipe
from tunesmith.tune.driver import TuneOptions, tune

PARENT_TAG = "mlflow.parentRunId"
MLFLOW_ONLY = {"backends": ["mlflow"], "energy": {"enabled": False}}


def _with_tracking(path, tracking: dict):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["tracking"] = tracking
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_recipe(path)


def _runs(folder):
    """Every MLflow run in the store of `folder` (a search or group folder), by run name."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'tracking' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tunesmith")
    return client, {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def _study(hpo):
    import optuna

    from tunesmith.tune.storage import open_storage

    return optuna.load_study(study_name="tiny", storage=open_storage(None, hpo))


def test_a_search_is_one_mlflow_run_with_its_trials_nested(tiny_recipe, tmp_path):
    recipe = _with_tracking(search_recipe(tiny_recipe, pruner="none"), MLFLOW_ONLY)
    hpo = tmp_path / "hpo"
    tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False))

    # one store for the whole search, none in the trial folders
    assert not list((hpo / "trials").glob("*/tracking/mlflow.db"))
    client, runs = _runs(hpo)
    parent = runs["hpo"]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["tunesmith.study"] == "tiny"
    assert parent.data.tags["tunesmith.kind"] == "search"
    assert parent.data.params["search.objective"] == "val_perplexity"
    space = parent.data.params["search.space.training.lora.r"]
    assert json.loads(space) == {"type": "categorical", "choices": [2, 4]}
    for number in (0, 1):
        train = runs[f"trials/trial-{number:04d}/train"]
        assert train.data.tags[PARENT_TAG] == parent.info.run_id
        assert train.data.tags["tunesmith.group"] == parent.data.tags["tunesmith.group"]
        assert train.info.status == "FINISHED"
    objective = client.get_metric_history(parent.info.run_id, "search/objective")
    values = {t.number: t.value for t in _study(hpo).trials}
    assert {m.step: m.value for m in objective} == values
    best = client.get_metric_history(parent.info.run_id, "search/best")
    assert [m.value for m in sorted(best, key=lambda m: m.step)][-1] == min(values.values())
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'"
    )
    assert {r.info.run_name for r in children} == set(runs) - {"hpo"}


def _parent_record(folder) -> dict:
    return json.loads((folder / "tracking" / "parent.json").read_text(encoding="utf-8"))


def test_a_search_run_again_takes_up_its_parent_run(tiny_recipe, tmp_path):
    """A search continued (or restarted after its command was killed, its parent run left
    RUNNING) records into the same parent run, and ends it again."""
    from tune_helpers import dead_owner

    recipe = _with_tracking(search_recipe(tiny_recipe, pruner="none"), MLFLOW_ONLY)
    hpo = tmp_path / "hpo"
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=1, show_progress=False))
    client, runs = _runs(hpo)
    first = runs["hpo"].info.run_id
    # as a `kill -9` leaves it: RUNNING, held by a process that is gone
    client.update_run(first, status="RUNNING")
    record = _parent_record(hpo)
    record["mlflow"][0]["holders"] = [dead_owner()]
    (hpo / "tracking" / "parent.json").write_text(json.dumps(record), encoding="utf-8")

    tune(recipe, TuneOptions(hpo_dir=hpo, trials=2, show_progress=False))
    client, runs = _runs(hpo)
    parents = [r for r in runs.values() if PARENT_TAG not in r.data.tags]
    assert [p.info.run_id for p in parents] == [first]
    assert runs["hpo"].info.status == "FINISHED"
    assert runs["trials/trial-0001/train"].data.tags[PARENT_TAG] == first
    steps = [m.step for m in client.get_metric_history(first, "search/objective")]
    assert sorted(steps) == [0, 1]
    assert _parent_record(hpo)["mlflow"][0]["holders"] == []


def test_a_parent_run_another_process_holds_stays_running(tiny_recipe, tmp_path):
    """A worker of the same search still running (a live process holding the parent run):
    the command that ends first leaves the run RUNNING for it."""
    import os
    import socket

    recipe = _with_tracking(search_recipe(tiny_recipe, pruner="none"), MLFLOW_ONLY)
    hpo = tmp_path / "hpo"
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=1, show_progress=False))
    worker = f"{socket.gethostname()}:{os.getppid()}"  # alive while the tests run
    record = _parent_record(hpo)
    record["mlflow"][0]["holders"] = [worker]
    (hpo / "tracking" / "parent.json").write_text(json.dumps(record), encoding="utf-8")
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=2, show_progress=False, worker=True))
    _, runs = _runs(hpo)
    assert runs["hpo"].info.status == "RUNNING"
    assert _parent_record(hpo)["mlflow"][0]["holders"] == [worker]


def _wandb_runs(folder) -> list:
    """(group, job_type, name) of every offline W&B run under `folder`/tracking/wandb."""
    from wandb.proto import wandb_internal_pb2
    from wandb_records import payloads

    found = []
    for run_file in sorted((folder / "tracking" / "wandb").glob("offline-run-*/*.wandb")):
        for payload in payloads(run_file):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            if record.WhichOneof("record_type") == "run":
                run = record.run
                found.append((run.run_group, run.job_type, run.display_name))
                break
    return found


def test_a_group_is_one_parent_run_one_wandb_group_and_one_tensorboard_folder(
    tmp_path, tiny_model_dir
):
    from group_helpers import group_recipe

    from tunesmith.group.driver import run_group

    tracking = {
        "backends": ["mlflow", "tensorboard", "wandb"],
        "wandb": {"project": "tunesmith-test"},
        "energy": {"enabled": False},
    }
    path = group_recipe(tmp_path, tiny_model_dir, {"members": {"seeds": [0, 1]}})
    out = tmp_path / "out"
    run_group(_with_tracking(path, tracking), out)

    group = _parent_record(out)["tracking_group"]
    assert group.startswith("out-")
    _, runs = _runs(out)
    parent = runs["out"]
    assert parent.info.status == "FINISHED" and parent.data.tags["tunesmith.kind"] == "group"
    params = parent.data.params
    assert (params["group.members.seeds.0"], params["group.members.seeds.1"]) == ("0", "1")
    members = {name for name in runs if name.startswith("members/")}
    assert {"members/seed-0/train", "members/seed-1/evaluate"} <= members
    for name in members:
        assert runs[name].data.tags[PARENT_TAG] == parent.info.run_id
    assert not list((out / "members").glob("*/tracking/*"))  # no store of their own
    boards = out / "tracking" / "tensorboard" / "members"
    assert list((boards / "seed-1" / "train").glob("events.out.tfevents.*"))
    wandb = _wandb_runs(out)
    assert {g for g, _, _ in wandb} == {group}
    assert ("train", "members/seed-0/train") in {(job, name) for _, job, name in wandb}


def test_a_store_failing_mid_search_is_a_warning_and_the_next_search_closes_what_it_left(
    tiny_recipe, tmp_path, monkeypatch
):
    """The store refusing to end runs (a server gone): the search goes on with warnings; its
    trials' runs and the parent stay RUNNING. The next command on the folder takes the parent
    up and ends it, and closes the trials' runs as KILLED (no command ever runs in a finished
    trial's folder again to do it)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from tunesmith.tracking import mlflow_backend

    def refused(self, run_id, status=None, end_time=None):
        raise MlflowException("Connection refused")

    lines = []
    monkeypatch.setattr(mlflow_backend, "warn", lines.append)
    monkeypatch.setattr(MlflowClient, "set_terminated", refused)
    recipe = _with_tracking(search_recipe(tiny_recipe, pruner="none"), MLFLOW_ONLY)
    hpo = tmp_path / "hpo"
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=1, show_progress=False))
    assert lines and all(line.startswith("tracking.mlflow.tracking_uri: ") for line in lines)
    _, runs = _runs(hpo)
    assert {r.info.status for r in runs.values()} == {"RUNNING"}
    assert _parent_record(hpo)["mlflow"][0]["holders"] == []

    monkeypatch.undo()
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=1, show_progress=False))  # nothing to train
    _, again = _runs(hpo)
    assert again["hpo"].info.run_id == runs["hpo"].info.run_id
    assert again["hpo"].info.status == "FINISHED"
    assert again["trials/trial-0000/train"].info.status == "KILLED"
    assert not list(hpo.glob("trials/*/tracking/mlflow-open-runs.json"))
