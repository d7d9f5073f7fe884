"""Registry of corpus statistics: metric key -> how it is computed on resampled examples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tunesmith.registry import Registry


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
    # (columns of a, columns of b, alpha) -> (p-value, test name); None: the bootstrap's own
    paired_test: Callable | None = None
    # one example's score on this metric's scale, higher = better (error analysis)
    example_score: Callable | None = None
    description: str = ""


STATISTICS: Registry[Statistic] = Registry("statistic")


def register_statistic(stat: Statistic) -> Statistic:
    STATISTICS.register(stat.name, stat)
    return stat
