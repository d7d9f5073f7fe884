"""Re-running `tunesmith tune` continues the study: the sampler does not replay the first
command's proposals, and a trial stopped by Ctrl-C is retried once on resume."""

from __future__ import annotations

import os

import optuna
from tune_helpers import add_running_trial, dead_owner, search_recipe

from tunesmith.config import load_recipe
from tunesmith.config.space import check_space
from tunesmith.tune.storage import open_storage
from tunesmith.tune.study import open_study, sampler_seed
from tunesmith.tune.suggest import suggest_values

LR = "training.learning_rate"


def _propose(study, space: dict) -> dict:
    """One trial's values from the study's sampler (told complete, as a finished trial)."""
    trial = study.ask()
    values = suggest_values(trial, space)
    study.tell(trial, 1.0)
    return values


def test_a_restarted_search_does_not_replay_the_first_commands_proposals(tiny_recipe, tmp_path):
    recipe = load_recipe(search_recipe(tiny_recipe, startup_trials=10))
    space = check_space(recipe)
    storage = open_storage(None, tmp_path)
    first = open_study(storage, "s", recipe.search, "minimize", "fp", worker=False)
    before = [_propose(first, space) for _ in range(2)]
    restarted = open_study(storage, "s", recipe.search, "minimize", "fp", worker=False)
    after = _propose(restarted, space)
    assert after[LR] not in {values[LR] for values in before}
    # a fresh study proposes exactly what a TPE sampler seeded with search.seed proposes
    plain = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=recipe.search.seed, n_startup_trials=10)
    )
    assert [_propose(plain, space) for _ in range(2)] == before


def test_sampler_seed_is_the_search_seed_moved_on_by_existing_trials(tiny_recipe):
    search = load_recipe(search_recipe(tiny_recipe, seed=7)).search
    assert sampler_seed(search, worker=False, existing=0) == 7
    assert sampler_seed(search, worker=False, existing=3) == 10
    assert sampler_seed(search, worker=True, existing=3) == 7 + os.getpid() + 3


def _interrupt_first_report(self, number: int, step: int, value: float) -> None:
    raise KeyboardInterrupt  # what Ctrl-C does at the trial's first validation report


def test_a_trial_stopped_by_ctrl_c_is_retried_once_on_resume(
    tiny_recipe, tmp_path, capsys, monkeypatch
):
    import sys

    import pytest

    from tunesmith.cli.main import main
    from tunesmith.tune.driver import TuneOptions, tune
    from tunesmith.tune.progress import TuneProgress

    path = search_recipe(tiny_recipe, pruner="none", trials=1, startup_trials=10)
    hpo = tmp_path / "hpo"
    monkeypatch.setattr(TuneProgress, "on_value", _interrupt_first_report)
    monkeypatch.setattr(sys, "argv", ["tunesmith", "tune", str(path), "-o", str(hpo)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 130
    assert "Traceback" not in capsys.readouterr().err
    monkeypatch.undo()
    storage = open_storage(None, hpo)
    [stopped] = optuna.load_study(study_name="tiny", storage=storage).trials
    assert stopped.state == optuna.trial.TrialState.FAIL
    assert stopped.user_attrs["interrupted"] is True
    recipe = load_recipe(path)
    summary = tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False))
    trials = optuna.load_study(study_name="tiny", storage=storage).trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[1].params == stopped.params and trials[1].user_attrs["retried"] == 0
    assert summary["failed"][0]["reason"] == "interrupted (Ctrl-C)"
    # resuming again does not queue the interrupted trial a second time
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=2, show_progress=False))
    trials = optuna.load_study(study_name="tiny", storage=storage).trials
    assert [t.user_attrs.get("retried") for t in trials] == [None, 0, None]
    assert trials[2].params != stopped.params


def test_a_dead_retry_of_trial_0_is_not_retried_again(tiny_recipe, tmp_path):
    from tunesmith.tune.study import fail_dead_local_trials

    recipe = load_recipe(search_recipe(tiny_recipe))
    study = open_study(open_storage(None, tmp_path), "s", recipe.search, "minimize", "fp", False)
    add_running_trial(study, dead_owner(), retried=0)  # itself the retry of trial 0
    assert fail_dead_local_trials(study) == 1
    assert [t.state.name for t in study.trials] == ["FAIL"]  # no second retry queued


def _stop_at_step_4(error: type[BaseException]):
    """An on_value that raises `error` at the trial's second validation report (step 4): the
    checkpoint of step 2 is on disk by then."""

    def on_value(*args) -> None:  # (number, step, value), after `self` as a method
        if args[-2] == 4:
            raise error("stopped at step 4")

    return on_value


def test_a_retried_trial_leaves_no_checkpoints_in_the_attempt_it_repeats(
    tiny_recipe, tmp_path, monkeypatch
):
    import sys

    import pytest

    from tunesmith.cli.main import main
    from tunesmith.tune.driver import TuneOptions, tune
    from tunesmith.tune.progress import TuneProgress

    path = search_recipe(tiny_recipe, pruner="none", trials=1, startup_trials=10)
    hpo = tmp_path / "hpo"
    monkeypatch.setattr(TuneProgress, "on_value", _stop_at_step_4(KeyboardInterrupt))
    monkeypatch.setattr(sys, "argv", ["tunesmith", "tune", str(path), "-o", str(hpo)])
    with pytest.raises(SystemExit):
        main()
    monkeypatch.undo()
    first = hpo / "trials" / "trial-0000"
    assert (first / "train" / "checkpoints" / "latest").is_dir()  # what a resume would read
    tune(load_recipe(path), TuneOptions(hpo_dir=hpo, show_progress=False))
    trials = optuna.load_study(study_name="tiny", storage=open_storage(None, hpo)).trials
    assert [(t.state.name, t.user_attrs.get("retried")) for t in trials] == [
        ("FAIL", None),
        ("COMPLETE", 0),
    ]
    # the repeated attempt's checkpoints are gone; its record of what it did stays
    assert not (first / "train" / "checkpoints").exists()
    assert (first / "manifest.json").is_file() and (first / "train" / "metrics.jsonl").is_file()
    retry = hpo / "trials" / "trial-0001"
    assert (retry / "train" / "adapter" / "adapter_config.json").is_file()
    assert (retry / "train" / "summary.json").is_file()


def test_a_failed_trial_leaves_no_checkpoints(tiny_recipe, tmp_path, monkeypatch):
    from tunesmith.tune.trial import TrialContext, run_trial

    recipe = load_recipe(search_recipe(tiny_recipe, pruner="none"))
    crash = _stop_at_step_4(RuntimeError)  # a crash mid-training, after a checkpoint
    ctx = TrialContext(recipe, check_space(recipe), "val_perplexity", tmp_path, crash)
    study = optuna.create_study()
    study.optimize(lambda t: run_trial(t, ctx), n_trials=1, catch=(Exception,))
    [failed] = study.trials
    assert failed.state.name == "FAIL"
    assert failed.user_attrs["fail_reason"] == "RuntimeError: stopped at step 4"
    folder = tmp_path / "trials" / "trial-0000"
    assert (folder / "train" / "metrics.jsonl").is_file()
    assert not (folder / "train" / "checkpoints").exists()
