"""`tunesmith tune` on the tiny random model: trials, shared data, pruning, resume, results."""

from __future__ import annotations

import json
import sys

import optuna
import pytest
import yaml
from tune_helpers import search_recipe

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.errors import UserError
from tunesmith.tune.driver import TuneOptions, tune
from tunesmith.tune.storage import open_storage
from tunesmith.tune.study import open_study
from tunesmith.tune.trial import TrialContext, run_trial

_TEST_READS: list[str] | None = None


def _record_test_reads(event: str, args: tuple) -> None:
    # an audit hook cannot be removed: it records only while a test sets the list
    if _TEST_READS is None or event != "open" or not isinstance(args[0], str):
        return
    mode = args[1] if isinstance(args[1], str) else "r"
    if args[0].endswith("test.jsonl") and "r" in mode and "+" not in mode:
        _TEST_READS.append(args[0])


sys.addaudithook(_record_test_reads)


def _finished(study) -> list:
    return [t for t in study.trials if t.state.is_finished()]


def test_search_trains_trials_on_shared_data_and_never_reads_test(tiny_recipe, tmp_path):
    global _TEST_READS
    recipe = load_recipe(search_recipe(tiny_recipe, pruner="none"))
    hpo = tmp_path / "hpo"
    _TEST_READS = []
    try:
        summary = tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False))
    finally:
        reads, _TEST_READS = _TEST_READS, None
    assert reads == []
    assert summary["counts"] == {"complete": 2}
    trials = sorted((hpo / "trials").iterdir())
    assert [t.name for t in trials] == ["trial-0000", "trial-0001"]
    shared = next(p for p in (hpo / "data").iterdir() if p.is_dir()) / "data" / "train.jsonl"
    for folder in trials:
        run = RunDir(folder)
        assert not (run.data / "test.jsonl").exists()
        assert (run.data / "train.jsonl").stat().st_ino == shared.stat().st_ino  # hard link
        assert "evaluate" not in run.read_manifest()["stages"]
        assert run.read_manifest()["hpo"]["state"] == "complete"
        assert (run.report / "report.html").is_file()
    best = load_recipe(hpo / "best.yaml")
    assert best.search is None
    assert best.training.lora.r == summary["best"]["values"]["training.lora.r"]
    assert 1e-3 <= best.training.learning_rate <= 1e-2
    value = json.loads((RunDir(summary["best"]["run_dir"]).train / "summary.json").read_text())
    assert summary["best"]["value"] == pytest.approx(value["best_val_ppl"])
    assert "Optimisation history" in (hpo / "report.html").read_text(encoding="utf-8")


def test_rerun_continues_the_study_without_losing_trials(tiny_recipe, tmp_path):
    recipe = load_recipe(search_recipe(tiny_recipe, pruner="none"))
    hpo = tmp_path / "hpo"
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=1, show_progress=False))
    study = optuna.load_study(study_name="tiny", storage=open_storage(None, hpo))
    first = study.trials[0]
    tune(recipe, TuneOptions(hpo_dir=hpo, trials=2, show_progress=False))
    study = optuna.load_study(study_name="tiny", storage=open_storage(None, hpo))
    assert len(_finished(study)) == 2
    assert (study.trials[0].params, study.trials[0].value) == (first.params, first.value)


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_pruned_trial_ends_cleanly(tiny_recipe, tmp_path):
    recipe = load_recipe(search_recipe(tiny_recipe))
    study = optuna.create_study(pruner=_AlwaysPrune())
    space = {"training.lora.r": recipe.search.space["training.lora.r"]}
    ctx = TrialContext(recipe, space, "val_perplexity", tmp_path)
    study.optimize(lambda t: run_trial(t, ctx), n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [2]  # pruned at the first evaluation
    run = RunDir(trial.user_attrs["run_dir"])
    manifest = run.read_manifest()
    assert manifest["hpo"] == {"state": "pruned", "value": None}
    assert manifest["stages"]["train"]["status"] == "pruned"
    assert not (run.train / "checkpoints").exists()
    assert (run.report / "report.html").is_file()


def test_study_of_another_recipe_is_refused(tiny_recipe, tmp_path):
    recipe = load_recipe(search_recipe(tiny_recipe))
    storage = open_storage(None, tmp_path)
    study = open_study(storage, "s", recipe.search, "minimize", "aaaa", worker=False)
    study.enqueue_trial({"x": 1})  # the study now has a trial: its fingerprint is binding
    with pytest.raises(UserError, match="created by another recipe"):
        open_study(storage, "s", recipe.search, "minimize", "bbbb", worker=False)
    assert len(open_study(storage, "s", recipe.search, "minimize", "aaaa", False).trials) == 1


def test_final_best_vs_default_on_test_with_paired_intervals(tiny_recipe, tmp_path):
    from tunesmith.cli.compare_cmd import compare_runs

    recipe = load_recipe(search_recipe(tiny_recipe, final=True, pruner="none", trials=1))
    hpo = tmp_path / "hpo"
    summary = tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False))
    final = json.loads((hpo / "final" / "compare.json").read_text())
    assert (final["a"], final["b"], final["n_shared"]) == ("default", "best", 10)
    assert {"rouge1", "rouge2", "rougeL", "perplexity"} <= set(final["metrics"])
    for pair in final["metrics"].values():
        assert pair["ci_low"] <= pair["delta"] <= pair["ci_high"]
        assert pair["delta"] == pytest.approx(pair["b"] - pair["a"])
        assert pair["n"] == 10
    # the same figures as `tunesmith compare default best` (one mechanism, not two)
    report = compare_runs([hpo / "final" / "default", hpo / "final" / "best"], tmp_path / "c.html")
    assert report["comparisons"][0]["metrics"] == final["metrics"]
    for name in ("best", "default"):
        manifest = RunDir(hpo / "final" / name).read_manifest()
        assert manifest["stages"]["evaluate"]["status"] == "done"
    assert summary["final"]["metrics"] == final["metrics"]
    page = (hpo / "report.html").read_text(encoding="utf-8")
    assert "Best vs default on the test split (10 paired examples)" in page


def test_report_escapes_recipe_text(tiny_recipe, tmp_path):
    from tunesmith.tune.report import write_report

    study = optuna.create_study()
    study.enqueue_trial({"x": 1.0}, user_attrs={"overrides": {"<script>": "<b>x</b>"}})
    study.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=1)
    from tunesmith.tune.report import study_summary

    page = write_report(study, study_summary(study, 1.0), tmp_path).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "--trials: 0"),
        (["--storage", "postgresql://u:secret@127.0.0.1:9/x"], "cannot open"),
        (["--storage", "nosuchdb://x/y"], "cannot open"),
        (["--timeout", "soon"], "--timeout"),
    ],
)
def test_bad_input_is_one_line_exit_2(tiny_recipe, tmp_path, capsys, monkeypatch, args, message):
    from tunesmith.cli.main import main

    path = search_recipe(tiny_recipe)
    monkeypatch.setattr(sys, "argv", ["tunesmith", "tune", str(path), "-o", str(tmp_path), *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exit_info.value.code == 2
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err
    assert "secret" not in err


def test_validate_checks_the_space(tiny_recipe, capsys, monkeypatch):
    from tunesmith.cli.main import main

    space = {"training.lora.rank": {"type": "int", "low": 2, "high": 8}}
    path = search_recipe(tiny_recipe, space=space)
    monkeypatch.setattr(sys, "argv", ["tunesmith", "validate", str(path)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "training.lora.rank: unknown key" in capsys.readouterr().err
    assert yaml.safe_load(path.read_text())["search"]["space"] == space


def test_val_metric_objective_generates_on_validation(tiny_recipe, tmp_path):
    from tunesmith.tune.objective import metric_name

    recipe = load_recipe(search_recipe(tiny_recipe, objective="val_metric", pruner="none"))
    assert metric_name(recipe) == "rouge"
    study = optuna.create_study(direction="maximize")
    space = {"training.lora.r": recipe.search.space["training.lora.r"]}
    ctx = TrialContext(recipe, space, "val_metric", tmp_path)
    study.optimize(lambda t: run_trial(t, ctx), n_trials=1)
    trial = study.trials[0]
    assert 0.0 <= trial.value <= 1.0
    # the pruner sees -val_ppl when the study maximises a metric
    assert all(v < 0 for v in trial.intermediate_values.values())


def test_reuse_loaded_models_reads_once_and_hands_out_copies(tiny_model_dir, monkeypatch):
    import torch

    from tunesmith.config.schema import ModelConfig
    from tunesmith.models import load_model_and_tokenizer, loading, reuse_loaded_models

    calls = []
    original = loading._load
    monkeypatch.setattr(loading, "_load", lambda *a: calls.append(1) or original(*a))
    config = ModelConfig(name=str(tiny_model_dir))
    with reuse_loaded_models():
        first, _ = load_model_and_tokenizer(config, device="cpu")
        with torch.no_grad():
            next(first.parameters()).add_(1.0)  # a trial changes its copy
        second, _ = load_model_and_tokenizer(config, device="cpu")
    assert calls == [1]
    assert not torch.equal(next(first.parameters()), next(second.parameters()))
    load_model_and_tokenizer(config, device="cpu")
    assert calls == [1, 1]  # outside the block every load reads the disk


def test_tokenised_splits_are_reused_within_the_block_only(tiny_model_dir, tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    import tunesmith.models.formatting as formatting
    from tunesmith.artifacts import write_jsonl
    from tunesmith.train.encoded import encoded_split, reuse_encoded

    calls = []
    real = formatting.encode_example
    monkeypatch.setattr(formatting, "encode_example", lambda *a: calls.append(1) or real(*a))
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    path = tmp_path / "train.jsonl"
    write_jsonl(path, [{"prompt": "p", "response": "a"}, {"prompt": "q", "response": "b"}])
    encoded_split(path, tokenizer, 64)
    encoded_split(path, tokenizer, 64)
    assert len(calls) == 4  # no cache outside the block
    with reuse_encoded():
        _, first = encoded_split(path, tokenizer, 64)
        first[0].weight = 9.0  # a trial changing its items does not reach the next one
        rows, again = encoded_split(path, tokenizer, 64)
        assert len(calls) == 6
        assert [i.input_ids for i in again] == [i.input_ids for i in first]
        assert again[0].weight == 1.0 and rows[0]["prompt"] == "p"
        encoded_split(path, tokenizer, 32)  # another length limit: encoded again
        write_jsonl(path, [{"prompt": "r", "response": "c"}])  # other bytes: encoded again
        assert encoded_split(path, tokenizer, 64)[0] == [{"prompt": "r", "response": "c"}]
        assert len(calls) == 9
