"""After a stage: log what it wrote (figures, artefacts) to its tracker runs.

Reading the stage's files, not hooking into its code, keeps the stages unaware of trackers:
one registered reader per stage; a stage without one logs only its energy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tunesmith.registry import Registry
from tunesmith.tracking.fanout import numeric

OUTPUTS: Registry[Callable[[object], list[tuple[dict, list[Path]]]]] = Registry("stage output")


def log_stage_outputs(run_dir, stage: str, backends: list, energy: dict | None) -> None:
    pieces = OUTPUTS.get(stage)(run_dir) if stage in OUTPUTS else []
    if energy:
        pieces.append((numeric(energy, f"{stage}/energy"), []))
    for metrics, artefacts in pieces:
        for backend in backends:
            if metrics:
                backend.log_metrics(metrics, None)
            for path in artefacts:
                if path.exists():
                    backend.log_artifact(path)


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


@OUTPUTS.register("data")
def _data(run_dir) -> list:
    card = _json(run_dir.data / "data_card.json")
    return [(numeric(card.get("sizes", {}), "data/examples"), [run_dir.data / "data_card.json"])]


@OUTPUTS.register("train")
def _train(run_dir) -> list:
    summary = _json(run_dir.train / "summary.json")
    return [
        (numeric(summary, "train/summary"), [run_dir.train / "summary.json"]),
        ({}, [run_dir.train / "adapter"]),
    ]  # a full model's weights are not copied


@OUTPUTS.register("evaluate")
def _evaluate(run_dir) -> list:
    metrics, compare = _json(run_dir.eval / "metrics.json"), _json(run_dir.eval / "compare.json")
    figures = numeric(metrics, "eval")
    for variant, values in metrics.items():
        if isinstance(values, dict):
            figures.update(numeric(values, f"eval/{variant}"))
    # Every number of a comparison row: delta, relative, and ci_low/ci_high/p_value/n if there.
    for name, row in compare.get("metrics", {}).items():
        figures.update(numeric(row, f"eval/compare/{name}"))
    files = [run_dir.eval / "metrics.json", run_dir.eval / "compare.json"]
    return [(figures, files)]


@OUTPUTS.register("report")
def _report(run_dir) -> list:
    return [({}, [run_dir.report / "report.html"])]
