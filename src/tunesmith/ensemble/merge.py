"""Adapter merges of a run group's LoRA members (peft `add_weighted_adapter`): each merged
adapter is saved, reloaded from disk, checked against the exact combination of the members'
weight deltas (ensemble/merge_check.py) and re-scored on the test examples."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import write_json, write_jsonl


@dataclass(frozen=True)
class Combination:
    peft_type: str  # add_weighted_adapter's combination_type
    reference: str  # peft.utils.merge_utils function giving the exact combination
    uses_density: bool = False
    uses_sign: bool = False
    refactorised: bool = True  # re-factorised by SVD at svd_rank; cat stacks the factors


# linear uses peft's "cat": exact (B_i stacked, w_i * scaling_i * A_i stacked). peft's own
# "linear" sums A and B separately, which adds cross terms B_i A_j: not the weighted sum.
# TIES / DARE combine the full deltas, then peft refactorises them by SVD at `svd_rank`.
COMBINATIONS = {
    "linear": Combination("cat", "task_arithmetic", refactorised=False),
    "ties": Combination("ties_svd", "ties", True, True),
    "dare_linear": Combination("dare_linear_svd", "dare_linear", True),
    "dare_ties": Combination("dare_ties_svd", "dare_ties", True, True),
}


def merge_predictions(
    recipe, members, out: Path, labels, on_step=None, chosen=None
) -> tuple[dict, dict]:
    """({merge name: prediction rows}, {merge name: merge record}) for `chosen` merges
    (default: `group.merges`; the group leaves out those its failed members make impossible)."""
    from tunesmith.ensemble.merge_check import check_mergeable

    chosen = recipe.group.merges if chosen is None else chosen
    if not chosen:
        return {}, {}
    configs = check_mergeable(members)
    rows, records = {}, {}
    for cfg in chosen:
        folder = out / "merges" / cfg.name()
        record = merge_adapters(members, configs, cfg, folder / "adapter")
        if record["status"] == "verified":
            rows[cfg.name()] = score_adapter(members[0], folder / "adapter", labels)
            write_jsonl(folder / "predictions" / "test.jsonl", rows[cfg.name()])
            record["truncation"] = _cuts(cfg.name(), rows[cfg.name()], members[0].recipe)
        write_json(folder / "merge.json", record)
        records[cfg.name()] = record
        if on_step:
            on_step(f"{cfg.name()}: {record['status']} (error {record['error']:.2g})")
    return rows, records


def _cuts(name: str, rows: list[dict], recipe) -> dict:
    """What max_seq_length cut while the merge was scored (score_model marks the rows, as
    for evaluation's rows), said once on the console; {} when nothing was cut."""
    from tunesmith.models.truncation import marked_cuts, marked_warning, warn

    counts, length = marked_cuts(rows), recipe.training.max_seq_length
    warn(marked_warning(f"merge {name}", counts, len(rows), length))
    return counts


def merge_adapters(members, configs, cfg, target: Path) -> dict:
    """Merge, save atomically to `target`, reload and verify; a wrong merge is removed."""
    import torch
    from peft import PeftModel
    from peft.utils import merge_utils

    from tunesmith.ensemble.merge_check import (
        best_at_rank,
        expected_deltas,
        lora_deltas,
        recorded_drops,
        relative_error,
    )
    from tunesmith.models.safe_files import weights_matching_config

    combination = COMBINATIONS[cfg.method]
    names = [f"m{k}" for k in range(len(members))]
    weights = cfg.weights or [1.0 / len(members)] * len(members)
    first = _adapter(members[0])
    with weights_matching_config(first):
        model = PeftModel.from_pretrained(_base(members[0]), str(first), "m0")
    for name, gm in zip(names[1:], members[1:], strict=True):
        folder = _adapter(gm)
        with weights_matching_config(folder):
            model.load_adapter(str(folder), adapter_name=name)
    rank = (
        merged_rank(model, configs, cfg.svd_rank)
        if combination.refactorised
        else sum(c["r"] for c in configs)  # peft's cat ignores svd_rank: exact at any rank
    )
    drops: list = []
    torch.manual_seed(cfg.seed)
    with recorded_drops(drops):
        model.add_weighted_adapter(
            names,
            weights,
            "merged",
            combination_type=combination.peft_type,
            svd_rank=rank,
            density=cfg.density if combination.uses_density else None,
            majority_sign_method=cfg.majority_sign,
        )
    # Workaround (peft#3761): the merged factors already carry each member's scaling and the
    # new config sets lora_alpha = r (scaling 1); an inherited use_rslora would rescale them.
    model.peft_config["merged"].use_rslora = False
    reference = getattr(merge_utils, combination.reference)
    extra = ([cfg.density] if combination.uses_density else []) + (
        [cfg.majority_sign] if combination.uses_sign else []
    )
    exact = expected_deltas(model, names, weights, lambda d, w: reference(d, w, *extra), drops)
    _save(model, target)
    del model
    reloaded = PeftModel.from_pretrained(_base(members[0]), str(target))
    actual = lora_deltas(reloaded, "default")
    check = relative_error(actual, best_at_rank(exact, rank))
    approximation = relative_error(actual, exact)["error"]
    verified = check["error"] is not None and check["error"] <= cfg.max_error
    status = "verified" if verified else "refused"
    if status == "refused":
        shutil.rmtree(target, ignore_errors=True)  # a wrong merge is not left to be used
    return {
        "method": cfg.method,
        "peft_combination": combination.peft_type,
        "weights": weights,
        "density": cfg.density if combination.uses_density else None,
        "majority_sign": cfg.majority_sign if combination.uses_sign else None,
        "rank": rank,
        "status": status,
        "error": check["error"],
        "worst_module": check["worst_module"],
        "max_error": cfg.max_error,
        "approximation_error": approximation,  # vs the full-rank combination (SVD truncation)
        "adapter": str(target) if status == "verified" else None,
    }


def merged_rank(model, configs, asked: int | None) -> int:
    """The merged adapter's rank: asked (default: the members' ranks summed), at most the
    smallest targeted module's full rank. peft does not clamp it per module: a larger rank
    saves factors of another shape than the reloaded adapter expects."""
    from peft.tuners.lora import LoraLayer

    full = min(
        min(m.in_features, m.out_features) for m in model.modules() if isinstance(m, LoraLayer)
    )
    return min(asked if asked is not None else sum(c["r"] for c in configs), full)


def score_adapter(gm, folder: Path, labels) -> list[dict]:
    """The merged adapter, loaded from disk, scored on the member's test examples."""
    from peft import PeftModel

    from tunesmith.config.tasks import task_spec
    from tunesmith.evaluate.scoring import score_model
    from tunesmith.evaluate.stop import stop_strings
    from tunesmith.group.compare import test_examples
    from tunesmith.models.base import load_base

    _, tokenizer = load_base(gm.recipe)
    model = PeftModel.from_pretrained(_base(gm), str(folder)).merge_and_unload()
    spec = task_spec(gm.recipe.task)
    stop = stop_strings(gm.recipe, gm.run_dir.data)
    examples = test_examples(gm)
    return score_model(
        model, tokenizer, examples, gm.recipe, spec.generates, labels, None, stop=stop
    )


def _base(gm):
    from tunesmith.models.base import apply_pretraining, load_base

    model, _ = load_base(gm.recipe)
    return apply_pretraining(model, gm.recipe, gm.run_dir)


def _adapter(gm) -> Path:
    """A member's saved adapter, checked as every run-folder load is (safetensors only, no
    damaged file) before peft reads it."""
    from tunesmith.methods import method_of
    from tunesmith.models.safe_files import require_readable, require_safetensors

    folder = gm.run_dir.train / method_of(gm.recipe.training).artefact
    require_safetensors(folder)
    require_readable(folder)
    return folder


def _save(model, target: Path) -> None:
    """save_pretrained into a scratch folder, then its adapter swapped into place
    (`swapped_into`): a crash leaves the previous adapter or the new one, never neither."""
    from tunesmith.artifacts.files import swapped_into
    from tunesmith.methods.base import finish_adapter_folder

    scratch = target.parent / f".{target.name}.saving"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        model.save_pretrained(str(scratch), selected_adapters=["merged"])
        with swapped_into(target) as staging:
            (scratch / "merged").rename(staging)  # peft saves a non-default adapter in a subfolder
            finish_adapter_folder(model, staging)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
