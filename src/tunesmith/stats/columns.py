"""Per-example prediction rows -> numpy columns the statistics read."""

from __future__ import annotations

import numpy as np

NUMERIC = ("rouge1", "rouge2", "rougeL", "nll", "tokens", "correct")


def columns_for(rows: list[dict], classes: list[str] | None = None) -> dict[str, np.ndarray]:
    """Columns of every per-example score present in `rows` (their `scores` mapping)."""
    scores = [r.get("scores", {}) for r in rows]
    present = set(scores[0]) if scores else set()
    cols: dict[str, np.ndarray] = {}
    for key in NUMERIC:
        if key in present:
            cols[key] = np.array([s[key] for s in scores], dtype=np.float64)
    if "bleu_stats" in present:
        cols["bleu_stats"] = np.array([s["bleu_stats"] for s in scores], dtype=np.int64)
    if "predicted_label" in present and classes:
        code = {label: i for i, label in enumerate(classes)}
        invalid = len(classes)  # a generated text that is no known label
        cols["label_code"] = np.array([code.get(r["reference"], invalid) for r in rows])
        cols["pred_code"] = np.array([code.get(s["predicted_label"], invalid) for s in scores])
        cols["n_classes"] = np.array(len(classes))
    cols["prediction"] = np.array([r.get("prediction", "") for r in rows], dtype=object)
    cols["reference"] = np.array([r.get("reference", "") for r in rows], dtype=object)
    return cols


def subset(cols: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of the examples at `index` (same order)."""
    return {k: (v if v.ndim == 0 else v[index]) for k, v in cols.items()}
