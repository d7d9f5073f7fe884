"""Paired tests from the well-kept libraries: exact McNemar (scipy's binomial test on the
discordant pairs, as statsmodels' mcnemar(exact=True)) for accuracy, and scipy's paired
permutation test for every other statistic."""

from __future__ import annotations

import numpy as np


def mcnemar_exact(stat, cols_a: dict, cols_b: dict, resamples: int, seed) -> tuple[float, str]:
    """Two-sided exact McNemar p-value for paired 0/1 correctness."""
    from scipy.stats import binomtest

    a, b = cols_a["correct"].astype(bool), cols_b["correct"].astype(bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0, "exact McNemar"
    return float(binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue), "exact McNemar"


def paired_permutation(stat, cols_a: dict, cols_b: dict, resamples: int, seed) -> tuple[float, str]:
    """Two-sided p-value of "the two rows are exchangeable": scipy's permutation test with
    permutation_type="samples", i.e. each example's two outputs swapped or not (the
    approximate randomization test of MT and NLP evaluation), the statistic recomputed as
    the corpus statistic it is. Exact when 2^n <= resamples.

    The paired bootstrap's p-value (the share of resampled deltas beyond zero) said p = 0.002
    for two examples that both favoured one model; with two examples no test can say less
    than 0.5, and this one does not.
    """
    from scipy.stats import permutation_test

    n = len(cols_a["prediction"])
    if n < 2:  # one example: nothing to swap it with, so no evidence either way
        return 1.0, "paired permutation"
    both = _stacked(cols_a, cols_b, n)  # rows 0..n-1 are a's outputs, n..2n-1 b's

    def b_minus_a(rows_a, rows_b, axis=-1):
        shape = np.shape(rows_a)[:-1]
        rows_a = np.reshape(rows_a, (-1, n)).astype(np.intp)
        rows_b = np.reshape(rows_b, (-1, n)).astype(np.intp)
        return (stat.compute(both, rows_b) - stat.compute(both, rows_a)).reshape(shape)

    own = np.arange(n)
    result = permutation_test(
        (own, own + n),
        b_minus_a,
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(min(1.0, result.pvalue)), "paired permutation"


def _stacked(cols_a: dict, cols_b: dict, n: int) -> dict:
    """One column set holding both rows' per-example columns (a's, then b's); per-sample
    values (the number of classes) are shared. A statistic computed on index rows of it
    computes on any mix of the two rows' outputs, example by example."""
    out = {}
    for name, column in cols_a.items():
        if name not in cols_b:  # a column only one row has (no statistic of both reads it)
            continue
        per_example = isinstance(column, np.ndarray) and column.ndim and len(column) == n
        out[name] = np.concatenate([column, cols_b[name]]) if per_example else column
    return out
