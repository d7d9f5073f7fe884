"""Text metrics, each a thin wrapper over its reference implementation."""

from tunesmith.metrics import classification, text  # noqa: F401  (register metrics)
from tunesmith.metrics.registry import METRICS, compute_metrics

__all__ = ["METRICS", "compute_metrics"]
