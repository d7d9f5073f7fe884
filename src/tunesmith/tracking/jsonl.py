"""Append-only JSONL metrics log that survives a crash (each line flushed and fsynced)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tunesmith.artifacts import write_jsonl
from tunesmith.tracking.observers import notify


class JsonlTracker:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        notify(record)

    def records(self) -> list[dict]:
        if not self.path.is_file():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash: drop it
                continue
        return rows

    def truncate_after(self, step: int) -> None:
        """On resume: keep what was logged up to the restored checkpoint, atomically."""
        write_jsonl(self.path, [r for r in self.records() if r.get("step", 0) <= step])
