"""Evaluate stage: perplexity and task metrics for the base and the tuned model, same prompts.

Reads data/test.jsonl and train/adapter/; writes eval/predictions/test.<base|tuned>.jsonl,
eval/metrics.json and eval/compare.json.
"""

from __future__ import annotations

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

    from tunesmith.evaluate.scoring import compare, score_model
    from tunesmith.models import (
        load_model_and_tokenizer,
        resolve_device,
        resolve_precision,
        set_threads,
    )

    out = run_dir.stage("evaluate")
    examples = read_jsonl(run_dir.data / "test.jsonl")[: recipe.evaluation.sample_size]
    if not examples:
        raise UserError("data: the test split is empty; set data.split.test or data.test")
    set_threads(recipe.model.threads)
    device = resolve_device(recipe.model.device)
    precision = resolve_precision(recipe.model.precision, device)
    model, tokenizer = load_model_and_tokenizer(recipe.model, device=device)
    if precision == "bf16":
        model.to(torch.bfloat16)
    generate = recipe.task in GENERATION_TASKS or recipe.task == "classification"
    labels = recipe.data.labels or _labels(run_dir) if recipe.task == "classification" else None
    variants = {"base": examples}
    demos = few_shot_demos(recipe, run_dir)
    if demos:
        variants["few_shot"] = [{**e, "demos": demos} for e in examples]
    variants["tuned"] = examples
    results = {}
    for variant, inputs in variants.items():
        if variant == "tuned":
            model = with_adapter(model, run_dir, recipe.training)
        metrics, predictions = score_model(
            model,
            tokenizer,
            inputs,
            recipe,
            generate,
            labels,
            progress(variant, len(examples)) if progress else None,
        )
        results[variant] = metrics
        if predictions is not None:
            write_jsonl(out / "predictions" / f"test.{variant}.jsonl", predictions)
    metrics = {"sample_size": len(examples), "split": "test", "precision": precision, **results}
    comparison = compare(results["base"], results["tuned"], len(examples))
    if "few_shot" in results:
        comparison["few_shot"] = compare(results["few_shot"], results["tuned"], len(examples))
        comparison["few_shot"]["demonstrations"] = len(demos)
    write_json(out / "metrics.json", metrics)
    write_json(out / "compare.json", comparison)
    return EvalResult(len(examples), metrics, comparison)


def with_adapter(model, run_dir: RunDir, training):
    """The tuned model, as the training method loads (and merges) its saved result."""
    from tunesmith.methods import load_tuned

    return load_tuned(training, run_dir.train, model)


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
