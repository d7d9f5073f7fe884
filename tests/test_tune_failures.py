"""A failing trial is recorded and the search goes on; only a search where no trial completed
fails, with one line naming the first failure."""

from __future__ import annotations

import json
import logging
import sys

import optuna
import pytest
from tune_helpers import search_recipe

from tunesmith.config import load_recipe
from tunesmith.config.space import check_space
from tunesmith.tune.driver import TuneOptions, tune
from tunesmith.tune.storage import open_storage
from tunesmith.tune.study import fingerprint, open_study

TARGETS = "training.lora.target_modules"
GOOD, BAD = ["q_proj", "v_proj"], ["nope_proj"]


def _label(choice: list[str]) -> str:
    return json.dumps(choice, sort_keys=True)  # how tune/suggest.py offers a list choice


def _no_up_front_check(monkeypatch) -> None:
    """As for a model whose module names are unknown before it loads (a hub id not fetched
    yet): the bad choice reaches a trial, and the adapter build refuses it there."""
    monkeypatch.setattr("tunesmith.tune.driver.check_choices_up_front", lambda *a: None)


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tiny_recipe, tmp_path, monkeypatch):
    _no_up_front_check(monkeypatch)
    space = {TARGETS: {"type": "categorical", "choices": [GOOD, BAD]}}
    recipe = load_recipe(search_recipe(tiny_recipe, space=space, pruner="none", trials=2))
    hpo = tmp_path / "hpo"
    printed = fingerprint(check_space(recipe), "val_perplexity", None)
    study = open_study(open_storage(None, hpo), "tiny", recipe.search, "minimize", printed, False)
    study.enqueue_trial({TARGETS: _label(BAD)})  # trial 0 fails (no module matches)
    for _ in range(2):
        study.enqueue_trial({TARGETS: _label(GOOD)})
    summary = tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False))
    assert summary["counts"] == {"fail": 1, "complete": 2}
    assert summary["best"]["number"] in (1, 2)
    [failed] = summary["failed"]
    assert failed["number"] == 0 and failed["values"] == {TARGETS: BAD}
    # the recipe's mistake in the recipe's words (it was peft's NoMatchingPeftModuleError)
    assert failed["reason"].startswith(f"{TARGETS}: ['nope_proj'] match no module of model ")
    assert "nope_proj" in failed["reason"] and "\n" not in failed["reason"]
    stored = optuna.load_study(study_name="tiny", storage=open_storage(None, hpo)).trials[0]
    assert stored.user_attrs["fail_reason"] == failed["reason"]
    assert json.loads((hpo / "summary.json").read_text())["failed"] == [failed]
    assert load_recipe(hpo / "best.yaml").training.lora.target_modules == GOOD
    assert "nope_proj" in (hpo / "report.html").read_text(encoding="utf-8")


def test_a_search_where_every_trial_fails_is_one_line(tiny_recipe, tmp_path, capsys, monkeypatch):
    from tunesmith.cli.main import main

    _no_up_front_check(monkeypatch)
    space = {TARGETS: {"type": "categorical", "choices": [BAD]}}
    path = search_recipe(tiny_recipe, space=space, pruner="none", trials=2)
    argv = ["tunesmith", "tune", str(path), "-o", str(tmp_path / "hpo")]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exit_info.value.code == 2  # the user's input (was 1: peft's own error, unmapped)
    assert len(errors) == 1 and "Traceback" not in err
    assert errors[0].startswith("error: search: no trial completed; 2 failed, the first (trial 0)")
    assert f"{TARGETS}: ['nope_proj'] match no module" in errors[0]
    assert not (tmp_path / "hpo" / "best.yaml").exists()


def test_a_second_main_command_on_the_folder_is_refused_but_workers_join(
    tiny_recipe, tmp_path, capsys, monkeypatch
):
    import os

    from tunesmith.artifacts.lock import RunLock
    from tunesmith.cli.main import main

    path = search_recipe(tiny_recipe, pruner="none", trials=1)
    hpo = tmp_path / "hpo"
    hpo.mkdir()
    with RunLock(hpo, what="search folder"):  # the first main command, still running
        monkeypatch.setattr(sys, "argv", ["tunesmith", "tune", str(path), "-o", str(hpo)])
        with pytest.raises(SystemExit) as exit_info:
            main()
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and "Traceback" not in err
        [line] = [line for line in err.splitlines() if line.startswith("error:")]
        assert line.startswith(f"error: search folder {hpo} is in use by pid {os.getpid()}")
        assert not (hpo / "study.journal").exists()  # refused before touching the study
        summary = tune(load_recipe(path), TuneOptions(hpo_dir=hpo, worker=True))
        assert summary["counts"] == {"complete": 1}


@pytest.mark.parametrize("command", ["validate", "tune"])
def test_a_target_modules_choice_matching_no_module_is_refused_up_front(
    tiny_recipe, tmp_path, capsys, monkeypatch, command
):
    from tunesmith.cli.main import main

    space = {TARGETS: {"type": "categorical", "choices": [GOOD, ["q_prj"]]}}
    path = search_recipe(tiny_recipe, space=space)
    out = tmp_path / "hpo"
    monkeypatch.setattr(sys, "argv", ["tunesmith", command, str(path), "-o", str(out)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith(
        "error: search.space 'training.lora.target_modules'=['q_prj']: "
        "training.lora.target_modules: ['q_prj'] match no module of model"
    )
    assert "(did you mean 'q_proj'?)" in line
    assert not (out / "study.journal").exists()


def test_the_recipes_own_target_modules_are_checked_by_validate(tiny_recipe, capsys, monkeypatch):
    import yaml

    from tunesmith.cli.main import main

    path = tiny_recipe()
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["training"].setdefault("lora", {})["target_modules"] = BAD
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["tunesmith", "validate", str(path)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "training.lora.target_modules: ['nope_proj'] match no module of model" in err


def test_a_search_without_a_validation_split_is_refused_before_any_trial(tiny_recipe, tmp_path):
    import yaml

    from tunesmith.errors import UserError

    path = search_recipe(tiny_recipe, pruner="none")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["data"]["split"]["validation"] = 0
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    hpo = tmp_path / "hpo"
    with pytest.raises(UserError, match="the validation split is empty; a search needs it"):
        tune(load_recipe(path), TuneOptions(hpo_dir=hpo, show_progress=False))
    assert not (hpo / "trials").exists()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_failed_trials_are_logged_without_traceback_wherever_optuna_logs_them(monkeypatch):
    """Not tied to a private module's logger: a failed trial's warning and traceback stay
    quiet even from a logger of another name (as when Optuna moves the module that runs
    trials), and Optuna's verbosity is left as it was."""
    from optuna.study import _optimize

    from tunesmith.tune.driver import _quiet_failed_trials

    moved = optuna.logging.get_logger("optuna.study.elsewhere")
    monkeypatch.setattr(_optimize, "_logger", moved)
    records = _Records()
    logging.getLogger("optuna").addHandler(records)
    before = optuna.logging.get_verbosity()

    def fail(trial):
        trial.suggest_float("x", 0, 1)
        raise ValueError("bad trial")

    try:
        study = optuna.create_study()
        with _quiet_failed_trials():
            study.optimize(fail, n_trials=1, catch=(Exception,))
    finally:
        logging.getLogger("optuna").removeHandler(records)
    assert [t.state.name for t in study.trials] == ["FAIL"]
    assert [r.getMessage() for r in records.records if r.levelno >= logging.WARNING] == []
    assert optuna.logging.get_verbosity() == before


def test_only_the_failed_trial_records_are_dropped_and_only_during_the_block():
    """Optuna's whole verbosity was raised to errors during the trials: every other warning it
    logs (a slow journal lock, say) was hidden too."""
    from tunesmith.tune.driver import _quiet_failed_trials

    records = _Records()
    logging.getLogger("optuna").addHandler(records)
    journal = optuna.logging.get_logger("optuna.storages.journal")

    def fail(trial):
        raise ValueError("bad trial")

    try:
        study = optuna.create_study()
        with _quiet_failed_trials():
            study.optimize(fail, n_trials=1, catch=(Exception,))
            journal.warning("the journal lock is slow")
        journal.warning("Trial 7 failed with value None.")  # the filter is gone after
    finally:
        logging.getLogger("optuna").removeHandler(records)
    shown = [r.getMessage() for r in records.records if r.levelno >= logging.WARNING]
    assert shown == ["the journal lock is slow", "Trial 7 failed with value None."]


def test_a_lost_shared_validation_split_is_a_missing_file_not_an_empty_split(tmp_path):
    from tunesmith.artifacts import RunDir
    from tunesmith.errors import UserError
    from tunesmith.tune.driver import _require_validation

    shared = RunDir(tmp_path / "hpo" / "data" / "abc")
    shared.data.mkdir(parents=True)
    (shared.data / "train.jsonl").write_text('{"prompt": "p", "response": "r"}\n')
    with pytest.raises(UserError, match="val.jsonl: missing run file"):
        _require_validation(shared)
    (shared.data / "val.jsonl").write_text("")
    with pytest.raises(UserError, match="the validation split is empty"):
        _require_validation(shared)
