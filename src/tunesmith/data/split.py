"""Seeded train/validation/test split, stratified by label where there is one."""

from __future__ import annotations

import random
from collections import defaultdict

from tunesmith.config.schema import SplitConfig
from tunesmith.errors import UserError


def split_examples(
    examples: list[dict], config: SplitConfig, need_val: bool, need_test: bool, stratify_key=None
) -> dict[str, list[dict]]:
    """Split into train/val/test; `need_*` is False when that split was given as a file."""
    total = len(examples)
    val_share = _share(config.validation, total, "data.split.validation") if need_val else 0.0
    test_share = _share(config.test, total, "data.split.test") if need_test else 0.0
    if val_share + test_share >= 1:
        raise UserError(
            f"data.split: validation + test take all {total} examples; nothing is left to train on"
        )
    rng = random.Random(config.seed)
    groups: dict[object, list[dict]] = defaultdict(list)
    for example in examples:
        key = stratify_key(example) if (stratify_key and config.stratify) else None
        groups[key].append(example)
    splits: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for key in sorted(groups, key=str):
        group = groups[key]
        rng.shuffle(group)
        n_test = round(len(group) * test_share)
        n_val = round(len(group) * val_share)
        splits["test"] += group[:n_test]
        splits["val"] += group[n_test : n_test + n_val]
        splits["train"] += group[n_test + n_val :]
    for name in splits:
        rng.shuffle(splits[name])
    if not splits["train"]:
        raise UserError(f"data.split: no training examples left out of {total}")
    return splits


def _share(value: float | int, total: int, key: str) -> float:
    if isinstance(value, float):  # a share, 1.0 included (the schema refuses floats > 1)
        return value
    if value > total:
        raise UserError(f"{key}: asks for {value} examples but the data has only {total}")
    return float(value) / total
