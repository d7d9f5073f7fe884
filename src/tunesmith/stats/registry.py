"""Registry of corpus statistics: metric key -> how it is computed on resampled examples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tunesmith.registry import Registry
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
    # centre the interval on the estimate (Efron's bias correction): the macro statistics,
    # whose classes can be out of a resample (their average then leaves them out)
    bias_corrected: bool = False
    # the statistic's range, where its interval can leave it: a bias-corrected interval is
    # moved, and the move can carry a bound past it (macro F1 [0.21, 1.01] on four rows)
    bounds: tuple[float, float] | None = None
    # (columns) -> words saying why the interval is not to be trusted as it stands, or None
    caution: Callable | None = None
    # a row's interval by the studentized bootstrap (bootstrap-t) where a standard error per
    # resample exists: (columns, idx) -> (estimates, standard errors) per index row on the
    # scale `from_pivot` maps to the metric (perplexity: the mean token NLL, and exp)
    pivot: Callable | None = None
    from_pivot: Callable | None = None


STATISTICS: Registry[Statistic] = Registry("statistic")


def register_statistic(stat: Statistic) -> Statistic:
    STATISTICS.register(stat.name, stat)
    return stat
