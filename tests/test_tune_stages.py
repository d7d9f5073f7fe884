"""A search runs the recipe's own training stages: pretrain then train (pre-training computed
once and shared when the space cannot change it), or federated instead of train."""

from __future__ import annotations

import optuna
import yaml
from conftest import make_records
from tune_helpers import search_recipe

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.tune.driver import TuneOptions, tune
from tunesmith.tune.trial import TrialContext, run_trial

PRETRAIN = {
    "max_seq_length": 32,
    "held_out": 4,
    "max_steps": 2,
    "batch_size": 4,
    "eval_every": 2,
    "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
}
LEARNING_RATE = {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}
WEIGHTS = "pretrain/weights/adapter_model.safetensors"


def _corpus(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(make_records(24)):
        (folder / f"doc{i:02d}.txt").write_text(row["description"] + "\n" + row["synopsis"])
    return str(folder)


def _with(path, **sections):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw.update(sections)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_recipe(path)


def _pretrain_search(tiny_recipe, tmp_path, space, **search):
    path = search_recipe(tiny_recipe, space=space, pruner="none", **search)
    evaluation = {"sample_size": 3, "generation": {"max_new_tokens": 2, "batch_size": 4}}
    pretrain = {"corpus": _corpus(tmp_path / "corpus"), **PRETRAIN}
    return _with(path, pretrain=pretrain, evaluation=evaluation)


def _trials(hpo):
    return [RunDir(p) for p in sorted((hpo / "trials").iterdir())]


def test_trials_pretrain_once_and_share_it(tiny_recipe, tmp_path, monkeypatch):
    space = {"training.learning_rate": LEARNING_RATE}
    recipe = _pretrain_search(tiny_recipe, tmp_path, space, final=True)
    hpo = tmp_path / "hpo"
    summary = tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False))
    assert summary["counts"] == {"complete": 2}
    # no search key touches pretrain.*: one pre-training, hard-linked into every trial
    (shared,) = [p for p in (hpo / "pretrain").iterdir() if p.is_dir()]
    finals = [RunDir(hpo / "final" / name) for name in ("default", "best")]
    for run in finals:  # trained on the same pre-training, then tested
        assert (run.root / WEIGHTS).stat().st_ino == (shared / WEIGHTS).stat().st_ino
        assert run.read_manifest()["stages"]["evaluate"]["status"] == "done"
    assert summary["final"]["n_shared"] == 3
    for run in _trials(hpo):
        assert (run.root / WEIGHTS).stat().st_ino == (shared / WEIGHTS).stat().st_ino
        stages = run.read_manifest()["stages"]
        assert stages["pretrain"]["status"] == "done"
        assert "pretrain/weights" in stages["train"]["inputs"]  # trained on the pre-trained base
        assert "evaluate" not in stages

    # val_metric scores the trial's model on the base it was fine-tuned from (pre-trained)
    import tunesmith.models.base as base
    from tunesmith.tune.objective import objective_value

    applied = []
    original = base.apply_pretraining
    monkeypatch.setattr(
        base, "apply_pretraining", lambda m, r, d: applied.append(d.root) or original(m, r, d)
    )
    assert 0.0 <= objective_value(recipe, _trials(hpo)[0], "val_metric") <= 1.0
    assert applied == [_trials(hpo)[0].root]


def test_space_on_a_pretrain_key_pretrains_each_trial(tiny_recipe, tmp_path):
    space = {"pretrain.learning_rate": LEARNING_RATE}
    recipe = _pretrain_search(tiny_recipe, tmp_path, space)
    hpo = tmp_path / "hpo"
    summary = tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False))
    assert summary["counts"] == {"complete": 2}
    assert len([p for p in (hpo / "pretrain").iterdir() if p.is_dir()]) == 2
    first, second = _trials(hpo)
    assert (first.root / WEIGHTS).stat().st_ino != (second.root / WEIGHTS).stat().st_ino
    rates = [
        yaml.safe_load((r.root / "recipe.yaml").read_text())["pretrain"]["learning_rate"]
        for r in (first, second)
    ]
    assert rates[0] != rates[1]  # each trial pre-trained with its own value


def test_federated_trial_trains_in_the_federated_stage(tiny_recipe, tmp_path):
    path = search_recipe(tiny_recipe, space={"training.learning_rate": LEARNING_RATE})
    federated = {"clients": 2, "rounds": 1, "local_steps": 2}
    recipe = _with(path, federated=federated)
    study = optuna.create_study(direction="minimize")
    ctx = TrialContext(recipe, recipe.search.space, "val_perplexity", tmp_path)
    study.optimize(lambda t: run_trial(t, ctx), n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    stages = RunDir(tmp_path / "trials" / "trial-0000").read_manifest()["stages"]
    assert stages["federated"]["status"] == "done"
    assert "train" not in stages
