"""The "pretrained" evaluation row: the base model with the pre-training only (no fine-tuning)."""

from __future__ import annotations

from pathlib import Path

from tunesmith.evaluate.rows import ModelRow, register_row
from tunesmith.models.base import apply_pretraining, apply_weights, base_inputs

# Written by the ablation driver (tunesmith.ablation): fine-tuned from the plain base.
FINETUNE_ONLY = Path("ablation") / "finetune_only"


def _applies(recipe, run_dir) -> bool:
    return recipe.pretrain is not None


def _load(recipe, run_dir, model):
    return apply_pretraining(model, recipe, run_dir)


register_row(
    ModelRow(
        "pretrained",
        "base + pre-training",
        50,
        _applies,
        base_inputs,
        _load,
    )
)


def _has_twin(recipe, run_dir) -> bool:
    return recipe.pretrain is not None and (run_dir.root / FINETUNE_ONLY).is_dir()


def _twin_inputs(recipe, run_dir) -> list[Path]:
    return [run_dir.root / FINETUNE_ONLY]


def _load_twin(recipe, run_dir, model):
    return apply_weights(model, run_dir.root / FINETUNE_ONLY, "set pretrain.compare_without")


register_row(
    ModelRow(
        "finetune_only",
        "fine-tuning only (no pre-training)",
        70,
        _has_twin,
        _twin_inputs,
        _load_twin,
    )
)
