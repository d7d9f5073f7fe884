"""Exact copies of training rows in validation/test, and of test rows in validation, checked on
every run whatever the steps.

The `leakage` step (configured by `dedup`, off by default) drops val/test rows whose input is
found in train, and validation rows whose input is found in test, exactly or nearly. Without it
nothing looked: a `data.test` naming the train file, a test file holding training rows, or a
train file with many identical rows split at random all put memorised rows into the
evaluation, which then reports a "significant" gain; a validation file holding test rows lets
early stopping and the best checkpoint be chosen on the test set. This check is cheap (one hash
per row), only counts and warns, and never drops a row.
"""

from __future__ import annotations

from tunesmith.data.curate.minhash import exact_key
from tunesmith.data.curate.rows import input_text, output_text

HELD_OUT = ("val", "test")


def split_overlap(splits: dict[str, list[dict]], ctx) -> dict:
    """Per held-out split: its rows and how many are exact copies of a training row (input
    and output, on the normalised duplicate key); for validation also of a test row."""
    train = {_key(row, ctx) for row in splits.get("train", [])}
    test = {_key(row, ctx) for row in splits.get("test", [])}
    found, copied = {}, 0
    for name in (n for n in HELD_OUT if splits.get(n)):
        keys = [_key(row, ctx) for row in splits[name]]
        found[name] = {"rows": len(keys), "in_train": sum(key in train for key in keys)}
        copied += sum(key in train or (name == "val" and key in test) for key in keys)
        if name == "val":
            found[name]["in_test"] = sum(key in test for key in keys)
    return {"compared_on": "input+output", "found": found, "copied_rows": copied}


def overlap_warnings(overlap: dict | None) -> list[str]:
    """Lines for the console and the card: copies of training rows, copies of test rows."""
    if not overlap or not overlap.get("copied_rows"):
        return []
    found = overlap["found"]
    parts = [
        f"{counts['in_train']} of {counts['rows']} {name} rows"
        for name, counts in found.items()
        if counts["in_train"]
    ]
    lines = []
    if parts:
        lines.append(
            f"{' and '.join(parts)} are exact copies of training rows (same input and output): "
            "scores on them measure memorisation, not generalisation (data.curation.dedup "
            "drops them)"
        )
    in_test = found.get("val", {}).get("in_test")
    if in_test:
        lines.append(
            f"{in_test} of {found['val']['rows']} val rows are exact copies of test rows (same "
            "input and output): early stopping and the best checkpoint are then chosen partly "
            "on the test set (data.curation.dedup drops them from val)"
        )
    return lines


def _key(row: dict, ctx) -> bytes:
    return exact_key(input_text(row, ctx) + "\x1e" + (output_text(row, ctx) or ""))
