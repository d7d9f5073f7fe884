"""Evaluate stage: perplexity and task metrics for the base and the tuned model, same prompts.

Reads data/test.jsonl and train/adapter/; writes eval/predictions/test.<base|tuned>.jsonl,
eval/metrics.json and eval/compare.json.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from tunesmith.artifacts import RunDir, read_jsonl, write_json, write_jsonl
from tunesmith.config.schema import GENERATION_TASKS, Recipe
from tunesmith.errors import UserError


@dataclass
class EvalResult:
    sample_size: int
    metrics: dict
    compare: dict


def run(recipe: Recipe, run_dir: RunDir, progress=None) -> EvalResult:
    import torch

    from tunesmith.evaluate.rows import rows_for
    from tunesmith.evaluate.scoring import compare, score_model
    from tunesmith.models import resolve_device, resolve_precision, set_threads
    from tunesmith.models.base import load_base

    out = run_dir.stage("evaluate")
    examples = read_jsonl(run_dir.data / "test.jsonl")[: recipe.evaluation.sample_size]
    if not examples:
        raise UserError("data: the test split is empty; set data.split.test or data.test")
    set_threads(recipe.model.threads)
    device = resolve_device(recipe.model.device)
    precision = resolve_precision(recipe.model.precision, device)
    model, tokenizer = load_base(recipe, device=device)  # the plain base; rows add the rest
    if precision == "bf16":
        model.to(torch.bfloat16)
    generate = recipe.task in GENERATION_TASKS or recipe.task == "classification"
    labels = recipe.data.labels or _labels(run_dir) if recipe.task == "classification" else None
    demo_counts: dict[str, int] = {}
    results = {}
    for row in rows_for(recipe, run_dir):
        demos = row.demos(recipe, run_dir) if row.demos else None
        inputs = [{**e, "demos": demos} for e in examples] if demos else examples
        scored = row.load(recipe, run_dir, copy.deepcopy(model))
        metrics, predictions = score_model(
            scored,
            tokenizer,
            inputs,
            recipe,
            generate,
            labels,
            progress(row.name, len(examples)) if progress else None,
        )
        del scored
        results[row.name] = metrics
        if predictions is not None:
            write_jsonl(out / "predictions" / f"test.{row.name}.jsonl", predictions)
        if demos:
            demo_counts[row.name] = len(demos)
    metrics = {"sample_size": len(examples), "split": "test", "precision": precision, **results}
    comparison = compare(results["base"], results["tuned"], len(examples))
    for name in [n for n in results if n not in ("base", "tuned")]:
        # Same shape as before for every extra row: the row (as "base") against the tuned model.
        comparison[name] = compare(results[name], results["tuned"], len(examples))
        comparison.setdefault("vs_base", {})[name] = compare(
            results["base"], results[name], len(examples)
        )
        if name in demo_counts:
            comparison[name]["demonstrations"] = demo_counts[name]
    write_json(out / "metrics.json", metrics)
    write_json(out / "compare.json", comparison)
    return EvalResult(len(examples), metrics, comparison)


def with_adapter(model, run_dir: RunDir):
    """The tuned model: the base with the adapter merged in (plain weights generate fastest),
    or the fully fine-tuned weights in the base model's place."""
    from peft import PeftModel

    full = run_dir.train / "model"
    if (full / "config.json").is_file():
        from transformers import AutoModelForCausalLM

        tuned = AutoModelForCausalLM.from_pretrained(str(full), dtype=model.dtype)
        return tuned.to(model.device).eval()
    adapter = run_dir.train / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"{adapter}: no trained adapter; run the train stage first")
    return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()


def few_shot_demos(recipe: Recipe, run_dir: RunDir) -> list[dict]:
    """k seeded training examples shown to the base model as worked demonstrations."""
    import random

    k = recipe.evaluation.few_shot
    if not k or recipe.task in ("chat", "completion"):
        return []
    train = [e for e in read_jsonl(run_dir.data / "train.jsonl") if not e.get("augmented")]
    # Short demonstrations keep few-shot prompts within the context the model trained on.
    shortest = sorted(train, key=lambda e: len(e["prompt"]) + len(e["response"]))
    pool = shortest[: max(k, len(shortest) // 4)]
    chosen = random.Random(recipe.data.split.seed).sample(pool, min(k, len(pool)))
    return [{"prompt": e["prompt"], "response": e["response"]} for e in chosen]


def _labels(run_dir: RunDir) -> list[str]:
    return sorted({e["label"] for e in read_jsonl(run_dir.data / "train.jsonl") if "label" in e})


def _config(recipe: Recipe) -> tuple:
    return (
        recipe.task,
        recipe.model,
        recipe.training.max_seq_length,
        recipe.data.labels,
        recipe.evaluation,
    )


def _inputs(recipe: Recipe, run_dir: RunDir) -> list:
    from tunesmith.evaluate.rows import row_inputs

    # train.jsonl too: the labels of a classification task default to those seen in training.
    return [run_dir.data / "test.jsonl", run_dir.data / "train.jsonl", *row_inputs(recipe, run_dir)]


def _outputs(run_dir: RunDir) -> list:
    return [run_dir.eval / "metrics.json", run_dir.eval / "compare.json"]


def _run_with_bars(recipe: Recipe, run_dir: RunDir) -> EvalResult:
    from tunesmith.progress import GenerationBars, run_with_bars

    return run_with_bars(GenerationBars(), run, recipe, run_dir)


def _register() -> None:
    from tunesmith.evaluate import model_rows  # noqa: F401  (registers the rows)
    from tunesmith.stages import StageSpec, register_stage

    register_stage(StageSpec("evaluate", 40, _config, _inputs, _outputs, _run_with_bars))


_register()
