"""Statistics for the data card: length histograms and label counts."""

from __future__ import annotations

import math
from collections import Counter

from tunesmith.data.curate.rows import texts_of

BINS = 20


def word_count(value) -> int:
    return sum(len(text.split()) for text in texts_of(value))


def length_histograms(rows: list[dict], fields: list[str], like: dict | None = None) -> dict:
    """Per text field: histogram of lengths in words (edges reused from `like` if given)."""
    out: dict = {"unit": "words", "fields": {}}
    for name in fields:
        lengths = sorted(word_count(row.get(name)) for row in rows)
        previous = ((like or {}).get("fields") or {}).get(name)
        edges = previous["edges"] if previous else _edges(lengths)
        out["fields"][name] = {**summary(lengths), "edges": edges, "counts": _count(lengths, edges)}
    return out


def summary(sorted_values: list[int | float]) -> dict:
    if not sorted_values:
        return {"n": 0}
    n = len(sorted_values)
    return {
        "n": n,
        "min": sorted_values[0],
        "median": sorted_values[n // 2],
        "mean": round(sum(sorted_values) / n, 2),
        "p95": sorted_values[min(n - 1, int(n * 0.95))],
        "max": sorted_values[-1],
    }


def _edges(lengths: list[int]) -> list[int]:
    if not lengths:
        return [0, 1]
    top = lengths[min(len(lengths) - 1, int(len(lengths) * 0.99))]
    width = max(1, math.ceil((top + 1) / BINS))
    return [i * width for i in range(BINS + 1)]


def _count(lengths: list[int], edges: list[int]) -> list[int]:
    """Counts per bin [edges[i], edges[i+1]); the last bin also holds everything above."""
    counts = [0] * (len(edges) - 1)
    width = edges[1] - edges[0]
    for value in lengths:
        counts[min(len(counts) - 1, max(0, (value - edges[0]) // width))] += 1
    return counts


def label_of(row: dict, label_field: str) -> str | None:
    """The row's class, or None when it has none: a null, missing or blank label is no class
    (counting it as one showed a class named 'None' and a blank one)."""
    value = row.get(label_field)
    return None if value is None or not str(value).strip() else str(value)


def label_counts(rows: list[dict], label_field: str) -> dict[str, int]:
    """Rows per class, largest first; rows without a label are not counted (missing_labels)."""
    labels = (label_of(row, label_field) for row in rows)
    return dict(Counter(label for label in labels if label is not None).most_common())


def missing_labels(rows: list[dict], label_field: str) -> int:
    return sum(1 for row in rows if label_of(row, label_field) is None)
