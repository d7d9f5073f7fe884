"""End to end on the tiny model: run-folder contract, skip-if-unchanged, resume, reload."""

from __future__ import annotations

import json

import pytest

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import load_recipe
from tunesmith.pipeline import run_pipeline


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir):
    """One complete tiny run shared by the contract tests."""
    from conftest import make_records, write_recipe

    folder = tmp_path_factory.mktemp("run")
    recipe_path = write_recipe(
        folder,
        tiny_model_dir,
        make_records(60),
        {"validation": 8, "test": 10},
        data_name="data.jsonl.gz",  # gzipped data read like plain
        training={
            "epochs": 3,
            "batch_size": 4,
            "learning_rate": 1e-2,
            "max_seq_length": 96,
            "eval_every": 4,
        },
        evaluation={"generation": {"max_new_tokens": 6}, "few_shot": 2},
    )
    recipe = load_recipe(recipe_path)
    run_dir = RunDir(folder / "out")
    outcome = run_pipeline(recipe, run_dir)
    return recipe, run_dir, outcome


def test_run_folder_contract(finished_run):
    _, run_dir, outcome = finished_run
    assert outcome == {
        "data": "ran",
        "train": "ran",
        "evaluate": "ran",
        "checks": "ran",
        "report": "ran",
    }
    root = run_dir.root
    for rel in (
        "recipe.yaml",
        "manifest.json",
        "data/train.jsonl",
        "data/val.jsonl",
        "data/test.jsonl",
        "data/data_card.json",
        "train/adapter/adapter_config.json",
        "train/metrics.jsonl",
        "eval/metrics.json",
        "eval/compare.json",
        "eval/predictions/test.base.jsonl",
        "eval/predictions/test.tuned.jsonl",
        "report/report.html",
        "logs/train.log",
    ):
        assert (root / rel).is_file(), rel
    assert not (root / "train/checkpoints").exists()
    manifest = json.loads((root / "manifest.json").read_text())
    assert {s: manifest["stages"][s]["status"] for s in manifest["stages"]} == {
        "data": "done",
        "train": "done",
        "evaluate": "done",
        "checks": "done",
        "report": "done",
    }
    assert manifest["versions"]["torch"] and manifest["seed"] == 0
    # the comparison lives in its own file; the manifest points to it instead of a copy
    evaluated = manifest["stages"]["evaluate"]["result"]
    assert evaluated["compare"] == "eval/compare.json"
    assert evaluated["metrics"]["tuned"] and evaluated["sample_size"] == 10
    sizes = json.loads((root / "data/data_card.json").read_text())["sizes"]
    assert sizes == {"train": 42, "val": 8, "test": 10}


def test_splits_are_disjoint(finished_run):
    _, run_dir, _ = finished_run
    ids = {
        s: {e["id"] for e in read_jsonl(run_dir.data / f"{s}.jsonl")}
        for s in ("train", "val", "test")
    }
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["val"]


def test_metrics_and_compare(finished_run):
    _, run_dir, _ = finished_run
    metrics = json.loads((run_dir.eval / "metrics.json").read_text())
    compare = json.loads((run_dir.eval / "compare.json").read_text())
    assert metrics["sample_size"] == compare["sample_size"] == 10
    assert set(metrics["tuned"]) == {"perplexity", "rouge1", "rouge2", "rougeL", "bleu"}
    # The tiny model learns the synthetic pattern: held-out perplexity must drop a lot.
    assert metrics["tuned"]["perplexity"] < 0.5 * metrics["base"]["perplexity"]
    row = compare["metrics"]["rougeL"]
    assert row["delta"] == pytest.approx(row["tuned"] - row["base"])


def test_few_shot_baseline_is_scored_on_the_same_examples(finished_run):
    _, run_dir, _ = finished_run
    compare = json.loads((run_dir.eval / "compare.json").read_text())
    assert compare["demonstrations"] == 2 and "few_shot" in compare["rows"]
    few = read_jsonl(run_dir.eval / "predictions" / "test.few_shot.jsonl")
    base = read_jsonl(run_dir.eval / "predictions" / "test.base.jsonl")
    assert [r["id"] for r in few] == [r["id"] for r in base]
    metrics = json.loads((run_dir.eval / "metrics.json").read_text())
    assert metrics["few_shot"]["perplexity"] != metrics["base"]["perplexity"]


def test_saved_predictions_reproduce_metrics(finished_run):
    from tunesmith.metrics import compute_metrics

    _, run_dir, _ = finished_run
    metrics = json.loads((run_dir.eval / "metrics.json").read_text())
    for variant in ("base", "few_shot", "tuned"):
        rows = read_jsonl(run_dir.eval / "predictions" / f"test.{variant}.jsonl")
        again = compute_metrics(
            ["rouge", "bleu"], [r["prediction"] for r in rows], [r["reference"] for r in rows]
        )
        for key, value in again.items():
            assert metrics[variant][key] == pytest.approx(value)


def test_training_loss_decreases_and_best_checkpoint_is_restored(finished_run):
    _, run_dir, _ = finished_run
    history = read_jsonl(run_dir.train / "metrics.jsonl")
    losses = [r["loss"] for r in history if "loss" in r]
    assert sum(losses[-3:]) / 3 < 0.75 * sum(losses[:3]) / 3
    summary = json.loads((run_dir.train / "summary.json").read_text())
    vals = {r["step"]: r["val_ppl"] for r in history if "val_ppl" in r}
    assert summary["best_val_ppl"] == min(vals.values())
    assert vals[summary["best_step"]] == summary["best_val_ppl"]


def test_rerun_skips_unchanged_stages_and_reruns_changed(finished_run):
    recipe, run_dir, _ = finished_run
    adapter = (run_dir.train / "adapter" / "adapter_model.safetensors").read_bytes()
    assert set(run_pipeline(recipe, run_dir).values()) == {"skipped"}
    changed = recipe.model_copy(
        update={"evaluation": recipe.evaluation.model_copy(update={"sample_size": 5})}
    )
    outcome = run_pipeline(changed, run_dir)
    assert outcome == {
        "data": "skipped",
        "train": "skipped",
        "evaluate": "ran",
        "checks": "ran",
        "report": "ran",
    }
    assert json.loads((run_dir.eval / "metrics.json").read_text())["sample_size"] == 5
    assert (run_dir.train / "adapter" / "adapter_model.safetensors").read_bytes() == adapter


def test_adapter_reloads_with_plain_peft_to_identical_logits(finished_run):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tunesmith.models import load_model_and_tokenizer

    recipe, run_dir, _ = finished_run
    ours, tokenizer = load_model_and_tokenizer(recipe.model, device="cpu")
    merged = PeftModel.from_pretrained(ours, str(run_dir.train / "adapter")).merge_and_unload()
    plain = AutoModelForCausalLM.from_pretrained(recipe.model.name)
    plain = PeftModel.from_pretrained(plain, str(run_dir.train / "adapter")).eval()
    ids = tokenizer("This package provides a rust editor", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a, b = merged(ids).logits, plain(ids).logits
    assert torch.allclose(a, b, atol=1e-5)
    base = AutoModelForCausalLM.from_pretrained(recipe.model.name)
    with torch.no_grad():
        assert not torch.allclose(base(ids).logits, b, atol=1e-3)  # the adapter does something


def test_full_fine_tuning_writes_a_plain_model_and_evaluates_it(tmp_path, tiny_recipe):
    from transformers import AutoModelForCausalLM

    recipe = load_recipe(
        tiny_recipe(
            training={
                "method": "full",
                "max_steps": 6,
                "batch_size": 4,
                "learning_rate": 1e-3,
                "eval_every": 3,
                "max_seq_length": 96,
            }
        )
    )
    run_dir = RunDir(tmp_path / "full")
    run_pipeline(recipe, run_dir)
    assert not (run_dir.train / "adapter").exists()
    tuned = AutoModelForCausalLM.from_pretrained(run_dir.train / "model")
    base = AutoModelForCausalLM.from_pretrained(recipe.model.name)
    changed = [
        n
        for n, p in tuned.named_parameters()
        if (p - dict(base.named_parameters())[n]).abs().max() > 0
    ]
    assert len(changed) > 10  # every layer's weights moved, not just an adapter
    metrics = json.loads((run_dir.eval / "metrics.json").read_text())
    assert metrics["tuned"]["perplexity"] < metrics["base"]["perplexity"]
