"""Seeded, vectorised bootstrap: one (B, n) index matrix shared by every row (paired)."""

from __future__ import annotations

import numpy as np


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """B rows of n example indices drawn with replacement (numpy's PCG64, seeded)."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def stratified(idx: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Resamples of idx's shape drawn with replacement within each stratum, in place of idx.

    Every stratum keeps its size in every resample. The draws come from a generator seeded by
    idx's first row, so they are reproducible from the bootstrap seed and identical for the
    two rows of a paired comparison (same idx, same strata).
    """
    rng = np.random.default_rng(idx[0])
    drawn = np.empty_like(idx)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        drawn[:, members] = members[rng.integers(0, members.size, (idx.shape[0], members.size))]
    return drawn


def identity(n: int) -> np.ndarray:
    """The index 'resample' that is the sample itself (point estimates)."""
    return np.arange(n)[None, :]


def percentile_interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    """The (1 - alpha) percentile interval of bootstrap values."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def two_sided_p(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value of 'no difference': twice the smaller tail beyond zero.

    The +1 keeps p above zero with finitely many resamples (as sacrebleu does).
    """
    below = int(np.sum(deltas <= 0))
    above = int(np.sum(deltas >= 0))
    return float(min(1.0, 2 * (min(below, above) + 1) / (len(deltas) + 1)))
