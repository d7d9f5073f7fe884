"""balance: bring the training split's classes toward a target ratio (largest : smallest).

oversample duplicates random minority rows (marked "oversampled": true, new ids), undersample
drops random majority rows, class_weights changes no row and writes per-class loss weights to
the data card (`class_weights`) for training to use.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

from tunesmith.config.curation import BalanceConfig
from tunesmith.data.curate.base import Drop, Splits, StepOutput, register_step
from tunesmith.data.curate.stats import label_counts, label_of
from tunesmith.errors import UserError


@register_step("balance", "post", 20, "Oversample, undersample or weight classes (train only)")
def run(splits: Splits, config: BalanceConfig, ctx) -> StepOutput:
    if not ctx.label_field:
        raise UserError(
            "data.curation.balance: needs labelled data (task classification, or --label-field)"
        )
    train = splits.get("train", [])
    groups: dict[str, list[dict]] = defaultdict(list)
    unlabelled = []  # no class to balance: kept as they are
    for row in train:
        label = label_of(row, ctx.label_field)
        (unlabelled if label is None else groups[label]).append(row)
    if not groups:
        raise UserError(f"balance: no training row has a label (field '{ctx.label_field}')")
    before = label_counts(train, ctx.label_field)
    rng = random.Random(ctx.seed)
    dropped: list[Drop] = []
    card: dict = {}
    if config.method == "oversample":
        train = _oversample(groups, config.target_ratio, rng) + unlabelled
    elif config.method == "undersample":
        train = _undersample(groups, config.target_ratio, rng, dropped) + unlabelled
    else:
        card["class_weights"] = class_weights(before, config.target_ratio)
    after = label_counts(train, ctx.label_field)
    card["label_distribution"] = {
        "split": "train",
        "method": config.method,
        "target_ratio": config.target_ratio,
        "before": before,
        "after": after,
        "ratio_before": _ratio(before),
        "ratio_after": _ratio(after),
        "unlabelled": len(unlabelled),
    }
    stats = {"before": before, "after": after, "added": max(0, len(train) - len(splits["train"]))}
    return StepOutput({**splits, "train": train}, dropped, stats, card)


def _oversample(groups: dict[str, list[dict]], ratio: float, rng: random.Random) -> list[dict]:
    target = math.ceil(max(len(g) for g in groups.values()) / ratio)
    out: list[dict] = []
    for label in sorted(groups):
        rows = groups[label]
        out += rows
        for copy in range(max(0, target - len(rows))):
            source = rows[copy % len(rows)]
            out.append({**source, "id": f"{source['id']}-os{copy}", "oversampled": True})
    rng.shuffle(out)
    return out


def _undersample(groups, ratio: float, rng: random.Random, dropped: list[Drop]) -> list[dict]:
    limit = math.floor(min(len(g) for g in groups.values()) * ratio)
    out: list[dict] = []
    for label in sorted(groups):
        rows = list(groups[label])
        rng.shuffle(rows)
        out += rows[:limit]
        dropped += [Drop(r, "undersampled", {"label": label}) for r in rows[limit:]]
    rng.shuffle(out)
    return out


def class_weights(counts: dict[str, int], ratio: float) -> dict[str, float]:
    """Weights that make each class's total weight at least 1/ratio of the largest class's,
    normalised so the average weight per training row is 1."""
    largest = max(counts.values())
    mass = {label: max(n, largest / ratio) for label, n in counts.items()}
    total_rows = sum(counts.values())
    scale = total_rows / sum(mass.values())
    return {label: round(mass[label] / counts[label] * scale, 6) for label in counts}


def _ratio(counts: dict[str, int]) -> float | None:
    return round(max(counts.values()) / min(counts.values()), 4) if counts else None
