"""Domain stage: each evaluation row's perplexity on the pre-training corpus's held-out blocks.

Runs after evaluate when the recipe pre-trains. Reads pretrain/held_out.jsonl (token ids the
pretrain stage wrote) and the rows' own inputs; writes domain/metrics.json. Rows that differ
only in their prompt (few-shot) are the same model here and are left out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, read_jsonl, write_json
from tunesmith.config.schema import Recipe
from tunesmith.stages import StageSpec, register_stage


@dataclass
class DomainResult:
    perplexity: dict[str, float]
    blocks: int


def _held_out(run_dir: RunDir) -> Path:
    return run_dir.root / "pretrain" / "held_out.jsonl"


def run(recipe: Recipe, run_dir: RunDir) -> DomainResult:
    import torch

    from tunesmith.evaluate.rows import rows_for
    from tunesmith.models import resolve_device, resolve_precision, set_threads
    from tunesmith.models.base import load_base
    from tunesmith.models.formatting import Encoded
    from tunesmith.models.nll import perplexity

    set_threads(recipe.model.threads)
    device = resolve_device(recipe.model.device)
    precision = resolve_precision(recipe.model.precision, device)
    base, tokenizer = load_base(recipe, device=device)
    if precision == "bf16":
        base.to(torch.bfloat16)
    # Every position of a block is scored (labels = inputs), as in the pretrain stage.
    blocks = [row["input_ids"] for row in read_jsonl(_held_out(run_dir))]
    items = [Encoded(b, list(b)) for b in blocks[: recipe.pretrain.val_max_examples]]
    scores, labels = {}, {}
    for row in rows_for(recipe, run_dir):
        if row.demos is not None:
            continue
        model = row.load(recipe, run_dir, copy.deepcopy(base))
        scores[row.name] = perplexity(
            model, items, recipe.pretrain.batch_size, tokenizer.pad_token_id
        )
        labels[row.name] = row.label
        del model
    out = run_dir.stage("domain")
    write_json(
        out / "metrics.json",
        {"blocks": len(items), "perplexity": scores, "labels": labels, "precision": precision},
    )
    return DomainResult(scores, len(items))


def _applies(recipe: Recipe) -> bool:
    return recipe.pretrain is not None


def _config(recipe: Recipe) -> tuple:
    return (recipe.model, str(recipe.pretrain.val_max_examples), str(recipe.pretrain.batch_size))


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    from tunesmith.evaluate.rows import row_inputs

    return [_held_out(run_dir), *row_inputs(recipe, run_dir)]


def _outputs(run_dir: RunDir) -> list[Path]:
    return [run_dir.root / "domain" / "metrics.json"]


register_stage(StageSpec("domain", 50, _config, _inputs, _outputs, run, applies=_applies))
