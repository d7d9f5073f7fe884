"""Live progress of a run, from the files the CLI writes anyway (manifest, train/metrics.jsonl)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tunesmith.artifacts.processes import pid_alive
from tunesmith.ui.runs import json_object, lenient_file, read_json, read_recipe, stage_statuses

LAUNCH_FILE = "ui-launch.json"  # written in logs/ by a run the UI started: pid, command
LOG_TAIL_BYTES = 4000


def run_progress(root: Path) -> dict:
    """Stage statuses, the current stage, training step/total, loss, val ppl and ETA."""
    stages = json_object(read_json(root, "manifest.json").get("stages"))
    statuses = stage_statuses(stages, "pending", read_recipe(root))
    current = next((s for s, v in statuses.items() if v == "running"), None)
    launch = read_json(root, f"logs/{LAUNCH_FILE}")
    alive = _alive(launch.get("pid")) if launch else None
    finished = all(v in ("done", "skipped") for v in statuses.values())
    state = "finished" if finished else ("running" if current or alive else "stopped")
    if state == "running" and alive is False:
        state = "stopped"  # a stage says running but the process that ran it is gone
    return {
        "state": state,
        "stage": current,
        "stages": statuses,
        "seconds": {s: json_object(stages.get(s)).get("seconds") for s in statuses},
        "train": training_progress(root),
        "log_tail": log_tail(root) if launch else "",
    }


def training_progress(root: Path) -> dict:
    records = _records(root, "train/metrics.jsonl")
    steps = [r for r in records if "loss" in r]
    vals = [r for r in records if "val_ppl" in r]
    summary = read_json(root, "train/summary.json")
    last = steps[-1] if steps else {}
    step = summary.get("steps", last.get("step", 0))
    total = summary.get("total_steps") or last.get("total_steps")
    seconds = last.get("seconds")
    eta = None
    if total and step and seconds and step < total:
        eta = round(seconds / step * (total - step), 1)
    return {
        "step": step,
        "total_steps": total,
        "loss": last.get("loss"),
        "val_ppl": vals[-1]["val_ppl"] if vals else None,
        "eta_seconds": eta,
        "percent": round(100 * step / total, 1) if total else None,
    }


def log_tail(root: Path) -> str:
    path = lenient_file(root, "logs/run.log")
    if path is None:
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        text = handle.read().decode("utf-8", errors="replace")
    return text.replace("\r", "\n")  # progress bars redraw with carriage returns


def _records(root: Path, relative: str) -> list[dict]:
    path = lenient_file(root, relative)
    if path is None:
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rows.append(json.loads(line))
        except (ValueError, RecursionError):
            continue  # a line being written right now
    return [row for row in rows if isinstance(row, dict)]  # a copied folder's file may hold any


def _alive(pid) -> bool | None:
    if not isinstance(pid, int):
        return None
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reap our own child when it has exited
        if finished:
            return False
    except ChildProcessError:
        pass  # not our child (started by an earlier server): probe it instead
    return pid_alive(pid)
