"""Metric registry: name -> fn(predictions, references, **options) -> {metric: value}."""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.registry import Registry

METRICS: Registry[Callable[..., dict[str, float]]] = Registry("metric")


def compute_metrics(names: list[str], predictions: list[str], references: list[str], **options):
    """All requested text metrics (perplexity is computed by the evaluate stage, not here)."""
    values: dict[str, float] = {}
    for name in names:
        if name == "perplexity":
            continue
        values.update(METRICS.get(name)(predictions, references, **options))
    return values
