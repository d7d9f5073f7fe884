"""Append-only JSONL metrics log that survives a crash (each line flushed and fsynced)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from tunesmith.artifacts import write_jsonl
from tunesmith.artifacts.files import strict_json


class JsonlTracker:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, record: dict) -> None:
        # standard JSON, as every run file: a diverged training's NaN loss is null (json.dumps
        # wrote NaN, which jq, JavaScript and strict parsers refuse)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(strict_json(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def records(self) -> list[dict]:
        if not self.path.is_file():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(_logged(json.loads(line)))
            except json.JSONDecodeError:  # a line cut by a crash: drop it
                continue
        return rows

    def truncate_after(self, step: int) -> None:
        """On resume: keep what was logged up to the restored checkpoint, atomically."""
        write_jsonl(self.path, [r for r in self.records() if r.get("step", 0) <= step])


def _logged(row: dict) -> dict:
    """A record as it was logged: every value is a number, and null is how the file writes
    one that was not (NaN, ±inf), so a reader averaging losses gets NaN, not a TypeError."""
    if not isinstance(row, dict):  # a damaged line: its readers say so
        return row
    return {key: math.nan if value is None else value for key, value in row.items()}
