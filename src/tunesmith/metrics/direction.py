"""Which way each headline metric improves, for the CLI summary and the report."""

from __future__ import annotations

LOWER_IS_BETTER = frozenset({"perplexity", "loss"})
SMALL_SAMPLE = 100  # below this many test examples a headline difference is flagged as unreliable


def direction(metric: str) -> str:
    """'lower is better' or 'higher is better' for a metric name from compare.json."""
    return "lower is better" if metric in LOWER_IS_BETTER else "higher is better"


def small_sample_warning(n: int) -> str | None:
    """A one-line warning when `n` test examples are too few to trust a difference."""
    if n >= SMALL_SAMPLE:
        return None
    return (
        f"only {n} test examples (< {SMALL_SAMPLE}): differences this small a sample shows "
        "may be noise; use more test data before trusting them"
    )
