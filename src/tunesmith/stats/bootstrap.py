"""Seeded, vectorised bootstrap: one (B, n) index matrix shared by every row (paired)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """B rows of n example indices drawn with replacement (numpy's PCG64, seeded)."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def identity(n: int) -> np.ndarray:
    """The index 'resample' that is the sample itself (point estimates)."""
    return np.arange(n)[None, :]


def percentile_interval(
    values: np.ndarray, alpha: float, estimate: float | None = None, *, n: int
) -> tuple[float, float]:
    """The (1 - alpha) expanded percentile interval of bootstrap values of n examples.

    The plain percentile interval is too narrow on few examples (it spreads like s / sqrt(n)
    where a t interval spreads like t * s / sqrt(n - 1)): ROUGE, perplexity and BLEU
    intervals of 20 examples covered 87-93 % of test sets instead of 95 %. Its quantiles are
    taken at the wider level whose normal quantile is sqrt(n / (n - 1)) t_{n-1} (Hesterberg's
    expanded percentile interval), which keeps the bootstrap's skew and fades out with n.

    With `estimate`, the interval is bias-corrected (Efron): moved by the bootstrap's bias,
    the mean of the values less the estimate. The macro statistics ask for it: a class can be
    out of a resample, which shifts that resample's average by construction, not by chance.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = expanded_tail(alpha, n)
    low, high = np.quantile(finite, [tail, 1 - tail])
    bias = float(finite.mean()) - estimate if estimate is not None else 0.0
    return float(low - bias), float(high - bias)


def studentized_interval(
    estimate: float, se: float, boot: np.ndarray, boot_se: np.ndarray, alpha: float
) -> tuple[float, float] | None:
    """The (1 - alpha) studentized bootstrap (bootstrap-t) interval: the estimate less the
    quantiles of the resamples' t = (resample - estimate) / its standard error, times the
    sample's standard error. None when no t is defined (a standard error of 0).

    Where a standard error per resample exists (perplexity's mean token NLL), it adapts to
    the skew and the spread of few examples, which the percentile intervals do not fully do.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (boot - estimate) / boot_se
    t = t[np.isfinite(t)]
    if t.size == 0 or not se > 0:
        return None
    t_low, t_high = np.quantile(t, [alpha / 2, 1 - alpha / 2])
    return float(estimate - t_high * se), float(estimate - t_low * se)


@lru_cache(maxsize=256)
def expanded_tail(alpha: float, n: int) -> float:
    """The tail probability of each end of the expanded percentile interval of n examples."""
    from scipy.stats import norm, t

    if n < 2:
        return alpha / 2
    return float(norm.sf(np.sqrt(n / (n - 1)) * t.isf(alpha / 2, n - 1)))
