"""Seeded, vectorised bootstrap: one (B, n) index matrix shared by every row (paired)."""

from __future__ import annotations

import numpy as np


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """B rows of n example indices drawn with replacement (numpy's PCG64, seeded)."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def stratified(idx: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Resamples of idx's shape drawn with replacement within each stratum, in place of idx.

    Every stratum of two or more rows keeps its size in every resample. The strata of a
    single row are drawn together, as one pool: alone, such a row would be the same in every
    resample and add no spread at all (six classes seen once each gave an interval of zero
    width and a "significant" difference between two equally accurate models). The draws
    come from a generator seeded by idx's first row, so they are reproducible from the
    bootstrap seed and identical for the two rows of a paired comparison (same idx, strata).
    """
    rng = np.random.default_rng(idx[0])
    drawn = np.empty_like(idx)
    for members in _pools(strata):
        drawn[:, members] = members[rng.integers(0, members.size, (idx.shape[0], members.size))]
    return drawn


def _pools(strata: np.ndarray) -> list[np.ndarray]:
    """The row indices of each stratum of two or more rows, then those of all single rows."""
    values, counts = np.unique(strata, return_counts=True)
    pools = [np.flatnonzero(strata == v) for v, c in zip(values, counts, strict=True) if c > 1]
    single = np.flatnonzero(np.isin(strata, values[counts == 1]))
    return pools + ([single] if single.size else [])


def identity(n: int) -> np.ndarray:
    """The index 'resample' that is the sample itself (point estimates)."""
    return np.arange(n)[None, :]


def percentile_interval(
    values: np.ndarray, alpha: float, estimate: float | None = None
) -> tuple[float, float]:
    """The (1 - alpha) percentile interval of bootstrap values.

    With `estimate`, the interval is bias-corrected (Efron): moved by the bootstrap's bias,
    the mean of the values less the estimate. The macro statistics ask for it: their pooled
    rare classes fall out of some resamples, which shifts those resamples' averages by
    construction, not by chance.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    bias = float(finite.mean()) - estimate if estimate is not None else 0.0
    return float(low - bias), float(high - bias)
