"""Training stage: encode data/train+val, fine-tune with an adapter, write train/adapter/."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, read_jsonl, write_json
from tunesmith.artifacts.rank import is_writer
from tunesmith.config.schema import Recipe
from tunesmith.tracking import open_trackers


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

    from tunesmith.adapters import apply_adapter
    from tunesmith.models import (
        load_model_and_tokenizer,
        resolve_device,
        resolve_precision,
        set_threads,
    )
    from tunesmith.train.distributed import join_data_parallel
    from tunesmith.train.loop import Trainer, _save_adapter

    cfg = join_data_parallel(recipe.training, recipe.model.device)  # torchrun: distributed.py
    out = run_dir.stage("train")
    set_threads(recipe.model.threads)
    set_seed(cfg.seed)
    device = resolve_device(recipe.model.device)
    precision = resolve_precision(recipe.model.precision, device)
    model, tokenizer = load_model_and_tokenizer(recipe.model, device=device)
    if precision == "bf16" and cfg.method != "full":
        # Frozen weights in bf16; peft keeps the adapter's own weights in fp32. Full
        # fine-tuning keeps fp32 master weights and computes under bf16 autocast instead.
        model.to(torch.bfloat16)
    model = apply_adapter(model, cfg)
    train_items = _encode(
        run_dir.data / "train.jsonl", tokenizer, cfg.max_seq_length, _class_weights(run_dir)
    )
    val_items = _encode(run_dir.data / "val.jsonl", tokenizer, cfg.max_seq_length)
    val_items = val_items[: cfg.val_max_examples]
    trainer = Trainer(
        model,
        cfg,
        train_items,
        val_items,
        tokenizer.pad_token_id,
        out,
        open_trackers(out / "metrics.jsonl", stage="train"),  # JSONL + recipe.tracking
        precision=precision,
    )
    resumed = trainer.resume()
    trainer.run(on_step=progress(trainer.total_steps, trainer.state.step) if progress else None)
    state = trainer.state
    if not is_writer():  # multi-process: only rank 0 writes the run folder
        return TrainResult(state.step, state.best_step, state.best_val_ppl, 0.0, resumed)
    final = out / ("model" if cfg.method == "full" else "adapter")
    if (out / "best_adapter").is_dir():
        if final.exists():
            shutil.rmtree(final)
        shutil.copytree(out / "best_adapter", final)
    else:
        _save_adapter(model, final)
    tokenizer.save_pretrained(final)
    summary = {
        "steps": state.step,
        "total_steps": trainer.total_steps,
        "best_step": state.best_step,
        "best_val_ppl": state.best_val_ppl,
        "stopped_early": state.stopped_early,
        "tokens": state.tokens,
        "seconds": round(state.seconds, 2),
        "tokens_per_second": round(state.tokens / max(state.seconds, 1e-9), 1),
        "precision": precision,
        "device": device,
        "train_examples": len(train_items),
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


def _encode(path: Path, tokenizer, max_length: int, class_weights: dict | None = None):
    from tunesmith.models.formatting import encode_example

    if not path.is_file():
        return []
    items = []
    for example in read_jsonl(path):
        item = encode_example(example, tokenizer, max_length)
        if class_weights and "label" in example:
            item.weight = float(class_weights.get(example["label"], 1.0))
        items.append(item)
    return items
