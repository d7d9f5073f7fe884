"""The checks' intervals and paired deltas, through the evaluation's statistics (stats/)."""

from __future__ import annotations

import numpy as np

from tunesmith.stats import Statistic, compare_rows, row_interval
from tunesmith.stats.bootstrap import resample_indices


def _mean(cols, idx):
    return cols["value"][idx].mean(axis=1)


def mean_statistic(name: str, lower_is_better: bool = False) -> Statistic:
    """A per-example mean as a registered-style statistic (bootstrap interval, paired delta)."""
    return Statistic(name, ("value",), _mean, lower_is_better=lower_is_better)


def columns(values) -> dict:
    array = np.asarray(values, dtype=np.float64)
    return {"value": array, "prediction": np.array([""] * len(array), dtype=object)}


def base_vs_tuned(recipe, stat: Statistic, base_cols: dict, tuned_cols: dict) -> dict:
    """Both models' intervals and the paired tuned-minus-base delta on the same items."""
    ev = recipe.evaluation
    n = len(base_cols["prediction"])
    idx = resample_indices(n, ev.bootstrap_resamples, ev.bootstrap_seed)
    return {
        "n": n,
        "lower_is_better": stat.lower_is_better,
        "base": row_interval(stat, base_cols, idx, ev.alpha),
        "tuned": row_interval(stat, tuned_cols, idx, ev.alpha),
        "delta": compare_rows(stat, base_cols, tuned_cols, idx, ev.alpha),
    }


def mean_base_vs_tuned(recipe, name: str, base, tuned, lower_is_better=False) -> dict:
    """base_vs_tuned of two per-example value lists."""
    return base_vs_tuned(
        recipe, mean_statistic(name, lower_is_better), columns(base), columns(tuned)
    )


def nll_columns(scores: list[tuple[float, int]]) -> dict:
    """Columns of (NLL sum, tokens) per item, as the perplexity statistic reads them."""
    cols = columns([nll for nll, _ in scores])
    return {**cols, "nll": cols["value"], "tokens": np.array([t for _, t in scores], dtype=float)}


def perplexity_base_vs_tuned(recipe, base: list, tuned: list) -> dict:
    from tunesmith.stats import STATISTICS

    stat = STATISTICS.get("perplexity")
    return base_vs_tuned(recipe, stat, nll_columns(base), nll_columns(tuned))
