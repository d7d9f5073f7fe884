"""eval/errors.json: worst tuned predictions, regressions and wins, metrics by bucket."""

from __future__ import annotations

from collections import Counter

import numpy as np

from tunesmith.config.schema import Recipe
from tunesmith.config.tasks import metric_keys, task_spec
from tunesmith.errors import UserError
from tunesmith.stats import STATISTICS, columns_for
from tunesmith.stats.bootstrap import identity
from tunesmith.stats.columns import subset

MAX_SLICE_VALUES = 12
LENGTH_QUANTILES = (0.25, 0.5, 0.75)


def analyse(recipe: Recipe, predictions: dict[str, list[dict]], labels) -> dict:
    """Everything the report's error analysis shows, from the saved prediction rows."""
    ev = recipe.evaluation
    example_stat = _example_stat(recipe)
    tuned, base = predictions["tuned"], predictions["base"]
    s_tuned = np.array([example_stat.example_score(r["scores"]) for r in tuned])
    s_base = np.array([example_stat.example_score(r["scores"]) for r in base])
    gap = s_tuned - s_base
    k = ev.errors_shown
    out = {
        "score": example_stat.name,
        "margin": ev.regression_margin,
        "worst": [_case(tuned[i], base[i], s_tuned[i], s_base[i]) for i in np.argsort(s_tuned)[:k]],
        "regressions": _ranked(tuned, base, s_tuned, s_base, -gap, ev.regression_margin, k),
        "wins": _ranked(tuned, base, s_tuned, s_base, gap, ev.regression_margin, k),
        "n_regressions": int(np.sum(-gap > ev.regression_margin)),
        "n_wins": int(np.sum(gap > ev.regression_margin)),
        "buckets": _buckets(recipe, predictions, labels),
    }
    if task_spec(recipe.task).has_label and labels:
        from tunesmith.evaluate.labels import label_analysis

        out["labels"] = label_analysis(predictions, labels)
    return out


def _example_stat(recipe: Recipe):
    """The target metric's per-example score, else the first metric that has one."""
    keys = [recipe.target_metric(), *metric_keys(recipe.metrics())]
    # every statistic has a per-example score (tests/test_stats.py checks the registry)
    return next(STATISTICS.get(k) for k in keys if STATISTICS.get(k).example_score)


def _case(t: dict, b: dict, score_t: float, score_b: float) -> dict:
    return {
        "id": t["id"],
        "prompt": t["prompt"],
        "reference": t["reference"],
        "tuned": t["prediction"],
        "base": b["prediction"],
        "score_tuned": float(score_t),
        "score_base": float(score_b),
    }


def _ranked(tuned, base, s_tuned, s_base, by: np.ndarray, margin: float, k: int) -> list:
    order = [i for i in np.argsort(-by, kind="stable") if by[i] > margin][:k]
    return [_case(tuned[i], base[i], s_tuned[i], s_base[i]) for i in order]


def _buckets(recipe: Recipe, predictions: dict[str, list[dict]], labels) -> dict:
    """The target metric on input-length quartiles and on each `slice_by` field's values."""
    stat = STATISTICS.get(recipe.target_metric())
    cols = {name: columns_for(rows, labels) for name, rows in predictions.items()}
    rows = predictions["tuned"]
    groups = {"input length (words)": _length_groups([r["input_words"] for r in rows])}
    for field in recipe.evaluation.slice_by:
        groups[field] = _value_groups(rows, field)
    return {
        name: [
            {
                "bucket": bucket,
                "n": len(index),
                "metric": stat.name,
                "values": {
                    row: float(stat.compute(subset(c, np.array(index)), identity(len(index)))[0])
                    for row, c in cols.items()
                },
            }
            for bucket, index in group.items()
        ]
        for name, group in groups.items()
    }


def _length_groups(words: list[int]) -> dict[str, list[int]]:
    """Quartiles of input length (fewer groups when lengths tie), named by their range."""
    which = np.searchsorted(np.unique(np.quantile(words, LENGTH_QUANTILES)), words)
    groups: dict[str, list[int]] = {}
    for b in sorted(set(which.tolist())):
        members = [i for i, w in enumerate(which) if w == b]
        groups[f"{min(words[i] for i in members)}-{max(words[i] for i in members)}"] = members
    return groups


def _value_groups(rows: list[dict], field: str) -> dict[str, list[int]]:
    if rows and field not in rows[0].get("meta", {}):
        raise UserError(
            f"evaluation.slice_by: field '{field}' is not in data/test.jsonl; re-run the data "
            "stage (it keeps slice_by fields), or fix the field name"
        )
    values = [str(r["meta"][field]) for r in rows]
    common = {v for v, _ in Counter(values).most_common(MAX_SLICE_VALUES)}
    groups: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        groups.setdefault(value if value in common else "(other)", []).append(i)
    return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))
