"""Statistics of evaluation: bootstrap intervals, paired tests, corpus statistics.

A component importable without torch (numpy, scipy, sacrebleu). Every figure is computed
from per-example columns, so an interval resamples exactly the statistic that is reported.
"""

from tunesmith.stats import corpus  # noqa: F401  (register the statistics)
from tunesmith.stats.columns import columns_for
from tunesmith.stats.compare import compare_rows, row_interval
from tunesmith.stats.registry import STATISTICS, Statistic

__all__ = ["STATISTICS", "Statistic", "columns_for", "compare_rows", "row_interval"]
