"""The main `tunesmith tune` command next to other workers: its result waits for the trials
they are running, a worker that dies meanwhile has its trial failed (with a reason) and
retried during the search, and the progress bar counts every worker's trials."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import optuna
from tune_helpers import add_running_trial, dead_owner, search_recipe

from tunesmith.config import load_recipe
from tunesmith.config.space import check_space
from tunesmith.tune.storage import open_storage
from tunesmith.tune.study import fail_dead_local_trials, fingerprint, open_study

LR, RANK = "training.learning_rate", "training.lora.r"

# Another worker's trial, driven by hand: it asks a trial, draws the space's values, then
# ("finish") tells the value argv[4] once the study has argv[3] complete trials, or ("die")
# exits without a word once the study holds argv[3] trials in all.
_OTHER_WORKER = """
import os, sys, time
from pathlib import Path
import optuna
from tunesmith.tune.storage import open_storage
path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
study = optuna.load_study(study_name="tiny", storage=open_storage(path, Path(path).parent))
trial = study.ask()
values = {"training.learning_rate": trial.suggest_float("training.learning_rate", 1e-3, 1e-2,
          log=True), "training.lora.r": trial.suggest_categorical("training.lora.r", [2, 4])}
trial.set_user_attr("overrides", values)
def seen():
    trials = study.get_trials(deepcopy=False)
    if mode == "die":
        return len(trials)
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
while seen() < count:
    time.sleep(0.1)
if mode == "die":
    os._exit(0)
time.sleep(1.0)
study.tell(trial, float(sys.argv[4]))
"""


def _other_worker(journal, mode: str, count: int, value: float = 0.0) -> subprocess.Popen:
    args = [sys.executable, "-c", _OTHER_WORKER, str(journal), mode, str(count), str(value)]
    proc = subprocess.Popen(args)
    # reaped as soon as it exits: a zombie still answers to its pid, so it would look alive
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def _study(tiny_recipe, tmp_path):
    """The search recipe and its study, created as `tune` creates it (with its fingerprint)."""
    recipe = load_recipe(search_recipe(tiny_recipe, pruner="none", startup_trials=10))
    search = recipe.search
    printed = fingerprint(check_space(recipe), search.objective, search.metric)
    storage = open_storage(None, tmp_path / "hpo")
    return recipe, open_study(storage, "tiny", search, "minimize", printed, worker=False)


def _wait_for_trials(study, count: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while len(study.get_trials(deepcopy=False)) < count:
        assert time.monotonic() < deadline, "the other workers did not start their trials"
        time.sleep(0.1)


def test_the_result_waits_for_other_workers_and_retries_a_dead_ones_trial(tiny_recipe, tmp_path):
    import json

    from tunesmith.tune.driver import TuneOptions, tune

    recipe, study = _study(tiny_recipe, tmp_path)
    journal = tmp_path / "hpo" / "study.journal"
    # trial 0: finishes best of all, once this command's two trials completed (after its
    # own search stopped at the budget of 2); trial 1: its worker dies once this command
    # started its first trial (2)
    finisher = _other_worker(journal, "finish", count=2, value=0.5)
    _wait_for_trials(study, 1)  # started together, the dying one could ask trial 0 first
    dying = _other_worker(journal, "die", count=3)
    _wait_for_trials(study, 2)
    summary = tune(recipe, TuneOptions(hpo_dir=tmp_path / "hpo", trials=2, show_progress=False))
    finisher.wait(timeout=60)
    dying.wait(timeout=60)
    trials = optuna.load_study(study_name="tiny", storage=open_storage(None, tmp_path / "hpo"))
    trials = trials.trials
    assert trials[0].state.name == "COMPLETE" and trials[0].value == 0.5
    assert trials[1].state.name == "FAIL"
    assert "died mid-trial" in trials[1].user_attrs["fail_reason"]
    # the dead worker's trial was retried by this command's search, not left for a restart
    [retry] = [t for t in trials if t.user_attrs.get("retried") == 1]
    assert retry.state.name == "COMPLETE" and retry.params == trials[1].params
    # the result names the other worker's trial: best, and nothing counted as running
    assert summary["best"]["number"] == 0
    assert (
        (tmp_path / "hpo" / "best.yaml")
        .read_text()
        .startswith("# best recipe of study 'tiny': trial 0,")
    )
    saved = json.loads((tmp_path / "hpo" / "summary.json").read_text())
    assert saved["counts"] == {"complete": 3, "fail": 1}
    assert "died mid-trial" in saved["failed"][0]["reason"]


def test_two_commands_failing_one_dead_trial_at_once_queue_one_retry(
    tiny_recipe, tmp_path, monkeypatch
):
    """A command whose view of the study still shows the trial running (another command
    failed it a moment ago) skips it: no error, no second retry."""
    _, study = _study(tiny_recipe, tmp_path)
    add_running_trial(study, dead_owner())
    stale = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert fail_dead_local_trials(study) == 1  # the first command
    monkeypatch.setattr(study, "get_trials", lambda deepcopy=True, states=None: stale)
    assert fail_dead_local_trials(study) == 0  # the second, on its stale view
    monkeypatch.undo()
    assert [t.state.name for t in study.trials] == ["FAIL", "WAITING"]


def test_the_progress_bar_counts_the_trials_of_every_worker(tiny_recipe, tmp_path):
    from tunesmith.tune.progress import TuneProgress

    _, study = _study(tiny_recipe, tmp_path)
    bar = TuneProgress(4, 0, None, "val_perplexity")
    try:
        for value in (3.0, 2.0):  # two trials other workers finished meanwhile
            trial = study.ask()
            study.tell(trial, value)
        mine = study.ask()
        study.tell(mine, 1.0)
        bar.on_trial(study, study.trials[mine.number])
        assert bar._progress.tasks[0].completed == 3
    finally:
        bar.close()


def test_a_command_joining_a_study_being_created_by_another_recipe_is_refused(
    tiny_recipe, tmp_path
):
    """Two commands of different recipes starting at once on a fresh study: the one that did
    not create it must not write its own fingerprint over the creator's (then both ran)."""
    import pytest

    from tunesmith.errors import UserError
    from tunesmith.tune.study import FINGERPRINT_ATTR

    recipe = load_recipe(search_recipe(tiny_recipe))
    storage = open_storage(None, tmp_path / "hpo")
    created = optuna.create_study(study_name="tiny", storage=storage)  # the creator, mid-way
    # ... which writes its fingerprint a moment after creating the study
    timer = threading.Timer(0.5, created.set_user_attr, (FINGERPRINT_ATTR, "the-creators"))
    timer.start()
    try:
        with pytest.raises(UserError, match="created by another recipe"):
            open_study(storage, "tiny", recipe.search, "minimize", "mine", worker=False)
    finally:
        timer.join()
    assert created.user_attrs[FINGERPRINT_ATTR] == "the-creators"


def test_a_second_study_in_the_same_search_folder_is_refused(tiny_recipe, tmp_path):
    """Trial folders are numbered per study: another study would run in the first's folders."""
    import json

    import pytest

    from tunesmith.errors import UserError
    from tunesmith.tune.driver import TuneOptions, tune

    recipe = load_recipe(search_recipe(tiny_recipe, pruner="none"))
    hpo = tmp_path / "hpo"
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=1, show_progress=False))
    with pytest.raises(UserError, match="holds the trials of another study \\('tiny'"):
        tune(recipe, TuneOptions(hpo_dir=hpo, study="other", trials=1, show_progress=False))
    first = json.loads((hpo / "study.json").read_text())
    assert first["study"] == "tiny" and len(first["id"]) == 32
    (hpo / "study.journal").unlink()  # the same name, started over in a new storage
    with pytest.raises(UserError, match="another --output"):
        tune(recipe, TuneOptions(hpo_dir=hpo, trials=1, show_progress=False))
    assert json.loads((hpo / "study.json").read_text()) == first
    assert [p.name for p in (hpo / "trials").iterdir()] == ["trial-0000"]
