"""Registry of corpus statistics: metric key -> how it is computed on resampled examples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tunesmith.registry import Registry
from tunesmith.stats.bootstrap import stratified
from tunesmith.stats.significance import paired_permutation


@dataclass(frozen=True)
class Statistic:
    """A metric as a vectorised function of per-example columns.

    `compute(columns, idx)` gets index rows of shape (B, m) (B resamples of m examples) and
    returns the B statistic values; `idx = arange(n)[None]` gives the point estimate.
    """

    name: str
    columns: tuple[str, ...]
    compute: Callable  # (dict[str, np.ndarray], np.ndarray) -> np.ndarray
    lower_is_better: bool = False
    # (self, columns of a, columns of b, resamples, seed) -> (p-value, test name)
    paired_test: Callable = paired_permutation
    # one example's score on this metric's scale, higher = better (error analysis)
    example_score: Callable | None = None
    description: str = ""
    # a column the bootstrap keeps fixed: resamples are drawn within each of its values, so
    # every value of two or more rows keeps its count (macro P/R/F1: every reference class
    # seen twice or more stays in every resample; those seen once are drawn as one pool)
    strata: str | None = None
    # the statistic's range, where its interval can leave it: a bias-corrected interval is
    # moved, and the move can carry a bound past it (macro F1 [0.21, 1.01] on four rows)
    bounds: tuple[float, float] | None = None

    def resamples(self, columns: dict, idx: np.ndarray) -> np.ndarray:
        """The bootstrap index rows this statistic is computed on: `idx`, or `idx` redrawn
        within `strata` (the same `idx` and strata give the same rows, so pairing holds)."""
        return idx if self.strata is None else stratified(idx, columns[self.strata])


STATISTICS: Registry[Statistic] = Registry("statistic")


def register_statistic(stat: Statistic) -> Statistic:
    STATISTICS.register(stat.name, stat)
    return stat
