"""Exact copies of training rows in validation/test, checked on every run whatever the steps.

The `leakage` step (configured by `dedup`, off by default) drops val/test rows whose input is
found in train, exactly or nearly. Without it nothing looked: a `data.test` naming the train
file, a test file holding training rows, or a train file with many identical rows split at
random all put memorised rows into the evaluation, which then reports a "significant" gain.
This check is cheap (one hash per row), only counts and warns, and never drops a row.
"""

from __future__ import annotations

from tunesmith.data.curate.minhash import exact_key
from tunesmith.data.curate.rows import input_text, output_text

HELD_OUT = ("val", "test")


def split_overlap(splits: dict[str, list[dict]], ctx) -> dict:
    """Per held-out split: its rows and how many are exact copies of a training row (input
    and output, on the normalised duplicate key)."""
    train = {_key(row, ctx) for row in splits.get("train", [])}
    found = {
        name: {
            "rows": len(splits[name]),
            "in_train": sum(1 for row in splits[name] if _key(row, ctx) in train),
        }
        for name in HELD_OUT
        if splits.get(name)
    }
    copies = sum(counts["in_train"] for counts in found.values())
    return {"compared_on": "input+output", "found": found, "copied_rows": copies}


def overlap_warning(overlap: dict | None) -> str | None:
    """One line for the console and the card, or None when no held-out row is a copy."""
    if not overlap or not overlap.get("copied_rows"):
        return None
    parts = [
        f"{counts['in_train']} of {counts['rows']} {name} rows"
        for name, counts in overlap["found"].items()
        if counts["in_train"]
    ]
    return (
        f"{' and '.join(parts)} are exact copies of training rows (same input and output): "
        "scores on them measure memorisation, not generalisation (data.curation.dedup drops "
        "them)"
    )


def _key(row: dict, ctx) -> bytes:
    return exact_key(input_text(row, ctx) + "\x1e" + (output_text(row, ctx) or ""))
