"""Where metrics go: a JSONL log always, plus MLflow / W&B / TensorBoard when the recipe asks.

Importing this package registers every backend; none imports its library until it is used.
"""

from tunesmith.tracking import mlflow_backend, tensorboard_backend, wandb_backend  # noqa: F401
from tunesmith.tracking.base import TRACKERS, Tracker, close_left_open, preflight
from tunesmith.tracking.jsonl import JsonlTracker
from tunesmith.tracking.session import observe_stage, open_trackers

__all__ = [
    "TRACKERS",
    "JsonlTracker",
    "Tracker",
    "close_left_open",
    "observe_stage",
    "open_trackers",
    "preflight",
]
