"""Where metrics go: a JSONL log always (plus MLflow / W&B / TensorBoard when asked)."""

from tunesmith.tracking.jsonl import JsonlTracker

__all__ = ["JsonlTracker"]
