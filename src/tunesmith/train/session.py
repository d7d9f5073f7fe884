"""What fine-tuning and pre-training share around the loop: the trainable model, the run of the
loop with its tracker and resume, and the final artefact (best checkpoint restored)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tunesmith.tracking import open_trackers


def prepare(recipe, cfg) -> tuple[str, str]:
    """Threads, seed, and the (device, precision) a training loop runs with."""
    from transformers import set_seed

    from tunesmith.models import resolve_device, resolve_precision, set_threads

    set_threads(recipe.model.threads)
    set_seed(cfg.seed)
    device = resolve_device(recipe.model.device)
    return device, resolve_precision(recipe.model.precision, device)


def make_trainable(model, cfg, precision: str):
    """`model` wrapped or unfrozen as the configured method says, in its training precision."""
    import torch

    from tunesmith.methods import build_trainable, method_of

    if precision == "bf16" and not method_of(cfg).trains_base_weights:
        # Frozen weights in bf16; the adapter's own weights stay fp32. Methods that train the
        # base weights keep fp32 master weights and compute under bf16 autocast instead.
        model.to(torch.bfloat16)
    return build_trainable(model, cfg)


def make_trainer(model, cfg, plan, val_items, tokenizer, out: Path, precision: str, **options):
    """The loop over `plan` (train/plan.py BatchPlan: the training items then the replay
    items, in the curriculum's order); `options` go to the Trainer (e.g. soft targets)."""
    from tunesmith.train.loop import Trainer

    tracker = open_trackers(out / "metrics.jsonl")  # JSONL + the recipe's tracking backends
    return Trainer(
        model,
        cfg,
        plan.items,
        val_items,
        tokenizer.pad_token_id,
        out,
        tracker,
        precision,
        sampler=plan.sampler,
        train_count=plan.train_count,
        **options,
    )


def run_trainer(trainer, progress=None) -> bool:
    """Resume from the last checkpoint if any, then train to the end; True if it resumed."""
    resumed = trainer.resume()
    trainer.run(on_step=progress(trainer.total_steps, trainer.state.step) if progress else None)
    return resumed


def save_final(model, cfg, out: Path, final: Path, tokenizer) -> Path:
    """The best evaluated weights (else the last ones) at `final`, with the tokenizer: written
    beside it and swapped in whole, so a crash or a failed save leaves the previous result
    (never weights without their tokenizer, nor an emptied folder)."""
    from tunesmith.artifacts.files import swapped_into
    from tunesmith.methods import method_of

    with swapped_into(final) as staging:
        if (out / "best").is_dir():
            shutil.copytree(out / "best", staging)
        else:
            method_of(cfg).save(model, staging)
        tokenizer.save_pretrained(staging)
    return final
