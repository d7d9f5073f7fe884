"""Seeded train/validation/test split, stratified by label where there is one."""

from __future__ import annotations

import random
from collections import defaultdict

from tunesmith.config.schema import SplitConfig
from tunesmith.errors import UserError


def split_examples(
    examples: list[dict],
    config: SplitConfig,
    need_val: bool,
    need_test: bool,
    stratify_key=None,
    curated: str | None = None,
) -> dict[str, list[dict]]:
    """Split into train/val/test; `need_*` is False when that split was given as a file.
    `curated` says what curation removed before the split (named when the data is too small)."""
    total = len(examples)
    n_val = requested(config.validation, total, "data.split.validation", curated) if need_val else 0
    n_test = requested(config.test, total, "data.split.test", curated) if need_test else 0
    if n_val + n_test >= total:
        left = f" left after curation ({curated})" if curated else ""
        raise UserError(
            f"data.split: validation {n_val} + test {n_test} of {total} examples{left}: nothing "
            "is left to train on"
        )
    rng = random.Random(config.seed)
    groups: dict[object, list[dict]] = defaultdict(list)
    for example in examples:
        key = stratify_key(example) if (stratify_key and config.stratify) else None
        groups[key].append(example)
    keys = sorted(groups, key=str)
    for key in keys:
        rng.shuffle(groups[key])
    # a requested count is met exactly: rounding each class on its own missed it (100 classes
    # of 3 rows asked for 30 validation rows got 0); ties go to classes in a seeded order, and
    # validation has its own order: sharing the test's, the same classes won both tie-breaks
    tie_order = keys[:]
    rng.shuffle(tie_order)
    val_order = keys[:]
    random.Random(f"{config.seed}:validation").shuffle(val_order)  # rng's stream is kept
    sizes = [len(groups[key]) for key in keys]
    # one row of each class stays in training while the sizes allow: a class with all of its
    # rows in val/test is a class the model never sees
    keep = [size - 1 if size else 0 for size in sizes]
    test_of = apportion(n_test, sizes, sizes, tie_order, keys, keep)
    left = [size - t for size, t in zip(sizes, test_of)]
    val_of = apportion(n_val, sizes, left, val_order, keys, [k - t for k, t in zip(keep, test_of)])
    splits: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for key, t, v in zip(keys, test_of, val_of):
        group = groups[key]
        splits["test"] += group[:t]
        splits["val"] += group[t : t + v]
        splits["train"] += group[t + v :]
    for name in splits:
        rng.shuffle(splits[name])
    return splits


def apportion(
    total: int, weights: list[int], caps: list[int], tie_order: list, keys: list, soft=None
):
    """`total` units over the classes `keys` in proportion to `weights`, at most `caps` each
    (largest remainder): each class gets the floor of its share, then the units left go one at
    a time to the classes furthest below their share, ties in `tie_order`. `soft` caps are kept
    while they leave room for `total`; only the units beyond them go up to `caps`."""
    soft = caps if soft is None else [max(0, min(s, c)) for s, c in zip(soft, caps)]
    whole = sum(weights)
    shares = [total * w / whole if whole else 0.0 for w in weights]
    given = [min(int(share), cap) for share, cap in zip(shares, soft)]
    rank = {key: i for i, key in enumerate(tie_order)}
    for bound in (soft, caps):
        _fill(total, shares, given, bound, [rank[key] for key in keys])
    return given


def _fill(total: int, shares: list[float], given: list[int], caps: list[int], rank: list[int]):
    """Hand out units one at a time to the classes furthest below their share, up to `caps`."""
    while sum(given) < total:  # more than one pass only when caps bind
        open_ = [i for i in range(len(given)) if given[i] < caps[i]]
        if not open_:
            return
        open_.sort(key=lambda i: (given[i] - shares[i], rank[i]))
        for i in open_[: total - sum(given)]:
            given[i] += 1


def requested(value: float | int, total: int, key: str, curated: str | None = None) -> int:
    """The number of examples asked for: a float is a share of `total`, an int a count (the
    data stage also asks it of the file's size: the test split validate planned)."""
    if isinstance(value, float):  # a share, 1.0 included (the schema refuses floats > 1)
        return round(total * value)
    if value > total and curated:  # the file had enough rows: say where they went
        verb = "is" if total == 1 else "are"
        raise UserError(
            f"{key}: asks for {value} examples but only {total} {verb} left after curation "
            f"({curated})"
        )
    if value > total:
        raise UserError(f"{key}: asks for {value} examples but the data has only {total}")
    return value
