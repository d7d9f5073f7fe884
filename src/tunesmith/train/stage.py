"""Training stage: encode data/train+val, train with the configured method, write its result
(train/adapter/ or train/model/), summary.json and, with a curriculum, curriculum.json."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, read_jsonl, write_json
from tunesmith.config.schema import Recipe
from tunesmith.tracking import JsonlTracker


@dataclass
class TrainResult:
    steps: int
    best_step: int | None
    best_val_ppl: float | None
    tokens_per_second: float
    resumed: bool


def run(recipe: Recipe, run_dir: RunDir, progress=None) -> TrainResult:
    import torch
    from transformers import set_seed

    from tunesmith.methods import build_trainable, method_of
    from tunesmith.models import (
        load_model_and_tokenizer,
        resolve_device,
        resolve_precision,
        set_threads,
    )
    from tunesmith.train.loop import Trainer
    from tunesmith.train.plan import plan_batches

    cfg = recipe.training
    method = method_of(cfg)
    out = run_dir.stage("train")
    set_threads(recipe.model.threads)
    set_seed(cfg.seed)
    device = resolve_device(recipe.model.device)
    precision = resolve_precision(recipe.model.precision, device)
    model, tokenizer = load_model_and_tokenizer(recipe.model, device=device)
    if precision == "bf16" and not method.trains_base_weights:
        # Frozen weights in bf16; the adapter's own weights stay fp32. Methods that train the
        # base weights keep fp32 master weights and compute under bf16 autocast instead.
        model.to(torch.bfloat16)
    examples = _read(run_dir.data / "train.jsonl")
    train_items = _encode(examples, tokenizer, cfg.max_seq_length, _class_weights(run_dir))
    val_items = _encode(_read(run_dir.data / "val.jsonl"), tokenizer, cfg.max_seq_length)
    val_items = val_items[: cfg.val_max_examples]
    plan = plan_batches(cfg, model, tokenizer, examples, train_items, out)
    if plan.curriculum is not None:
        write_json(out / "curriculum.json", plan.curriculum)
    model = build_trainable(model, cfg)
    trainer = Trainer(
        model,
        cfg,
        plan.items,
        val_items,
        tokenizer.pad_token_id,
        out,
        JsonlTracker(out / "metrics.jsonl"),
        precision=precision,
        sampler=plan.sampler,
        train_count=plan.train_count,
    )
    resumed = trainer.resume()
    trainer.run(on_step=progress(trainer.total_steps, trainer.state.step) if progress else None)
    state = trainer.state
    final = out / method.artefact
    if (out / "best").is_dir():
        if final.exists():
            shutil.rmtree(final)
        shutil.copytree(out / "best", final)
    else:
        method.save(model, final)
    tokenizer.save_pretrained(final)
    summary = {
        "method": method.name,
        "steps": state.step,
        "total_steps": trainer.total_steps,
        "best_step": state.best_step,
        "best_val_ppl": state.best_val_ppl,
        "stopped_early": state.stopped_early,
        "tokens": state.tokens,
        "seconds": round(state.seconds, 2),
        "tokens_per_second": round(state.tokens / max(state.seconds, 1e-9), 1),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "precision": precision,
        "device": device,
        "train_examples": plan.train_count,
        "replay_examples": len(plan.items) - plan.train_count,
        "val_examples": len(val_items),
        "resumed": resumed,
    }
    write_json(out / "summary.json", summary)
    return TrainResult(
        state.step, state.best_step, state.best_val_ppl, summary["tokens_per_second"], resumed
    )


def _class_weights(run_dir: RunDir) -> dict[str, float]:
    """Per-label loss weights the balance step wrote to the data card (empty when none)."""
    import json

    card = run_dir.data / "data_card.json"
    if not card.is_file():
        return {}
    return json.loads(card.read_text(encoding="utf-8")).get("class_weights") or {}


def _read(path: Path) -> list[dict]:
    return read_jsonl(path) if path.is_file() else []


def _encode(examples: list[dict], tokenizer, max_length: int, class_weights: dict | None = None):
    from tunesmith.models.formatting import encode_example

    items = []
    for example in examples:
        item = encode_example(example, tokenizer, max_length)
        if class_weights and "label" in example:
            item.weight = float(class_weights.get(example["label"], 1.0))
        items.append(item)
    return items
