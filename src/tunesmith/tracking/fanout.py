"""The tracker the training loop holds: the JSONL log plus every backend of the stage run."""

from __future__ import annotations

from pathlib import Path

from tunesmith.tracking.jsonl import JsonlTracker
from tunesmith.tracking.observers import notify


def numeric(record: dict, prefix: str) -> dict[str, float]:
    """The record's numbers as metrics named `<prefix>/<key>` (the step is the x axis)."""
    return {
        f"{prefix}/{key}": float(value)
        for key, value in record.items()
        if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool)
    }


class FanOutTracker:
    """Same `log` / `records` / `truncate_after` as `JsonlTracker`; also feeds the backends."""

    def __init__(self, jsonl: JsonlTracker, backends: list, stage: str) -> None:
        self.jsonl, self.backends, self.stage = jsonl, backends, stage

    @property
    def path(self) -> Path:
        return self.jsonl.path

    def log(self, record: dict) -> None:
        self.jsonl.log(record)
        metrics = numeric(record, self.stage)
        for backend in self.backends:
            backend.log_metrics(metrics, record.get("step"))
        notify(record)  # in-process observers (a search trial's pruner) see it once logged

    def records(self) -> list[dict]:
        return self.jsonl.records()

    def truncate_after(self, step: int) -> None:
        self.jsonl.truncate_after(step)
        history = self.jsonl.records()
        for backend in self.backends:
            backend.resume(step, [(r.get("step"), numeric(r, self.stage)) for r in history])
