"""Run the stages in order; skip a finished stage whose config and inputs did not change."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, atomic_write_text, fingerprint
from tunesmith.config import Recipe, dump_recipe, recipe_hash


@dataclass(frozen=True)
class StageSpec:
    name: str
    inputs: Callable[[RunDir], list[Path]]
    config: Callable[[Recipe], tuple]
    outputs: Callable[[RunDir], list[Path]]
    run: Callable[[Recipe, RunDir], None]


def _data_inputs(recipe: Recipe):
    return [Path(p) for p in (recipe.data.train, recipe.data.validation, recipe.data.test) if p]


STAGES = (
    StageSpec(
        "data",
        lambda rd: [],
        lambda r: (r.task, r.model.name, r.data),
        lambda rd: [rd.data / "train.jsonl", rd.data / "data_card.json"],
        lambda r, rd: _run_data(r, rd),
    ),
    StageSpec(
        "train",
        lambda rd: [rd.data / "train.jsonl", rd.data / "val.jsonl"],
        lambda r: (r.task, r.model, r.training),
        lambda rd: [rd.train / "summary.json"],
        lambda r, rd: _run_train(r, rd),
    ),
    StageSpec(
        "evaluate",
        lambda rd: [rd.data / "test.jsonl", rd.train / "adapter", rd.train / "model"],
        lambda r: (r.task, r.model, r.training.max_seq_length, r.data.labels, r.evaluation),
        lambda rd: [rd.eval / "metrics.json", rd.eval / "compare.json"],
        lambda r, rd: _run_evaluate(r, rd),
    ),
    StageSpec(
        "report",
        lambda rd: [
            rd.data / "data_card.json",
            rd.train / "metrics.jsonl",
            rd.eval / "metrics.json",
        ],
        lambda r: (r,),
        lambda rd: [rd.report / "report.html"],
        lambda r, rd: _run_report(r, rd),
    ),
)


def run_pipeline(
    recipe: Recipe, run_dir: RunDir, on_stage=None, stages: tuple[str, ...] | None = None
) -> dict[str, str]:
    """Run every stage (or only those named in `stages`); returns {stage: 'ran' | 'skipped'}."""
    run_dir.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir.root / "recipe.yaml", dump_recipe(recipe))
    run_dir.set_field("seed", recipe.training.seed)
    outcome = {}
    for spec in (s for s in STAGES if stages is None or s.name in stages):
        config_hash = recipe_hash(*[_as_hashable(p) for p in spec.config(recipe)])
        inputs = [p for p in spec.inputs(run_dir) if p.exists()]
        if spec.name == "data":
            inputs = _data_inputs(recipe)
        prints = {
            str(p.relative_to(run_dir.root) if p.is_relative_to(run_dir.root) else p): fingerprint(
                p
            )
            for p in inputs
        }
        if _is_current(run_dir, spec, config_hash, prints):
            outcome[spec.name] = "skipped"
            if on_stage:
                on_stage(spec.name, "skipped", 0.0)
            continue
        _prepare(run_dir, spec.name, config_hash)
        run_dir.update_stage(spec.name, status="running", config_hash=config_hash, inputs=prints)
        started = time.perf_counter()
        with _stage_log(run_dir, spec.name):
            spec.run(recipe, run_dir)
        seconds = round(time.perf_counter() - started, 2)
        run_dir.update_stage(spec.name, status="done", seconds=seconds)
        _cleanup(run_dir, spec.name)
        outcome[spec.name] = "ran"
        if on_stage:
            on_stage(spec.name, "ran", seconds)
    return outcome


def _as_hashable(part):
    return part if hasattr(part, "model_dump") or part is None else str(part)


def _is_current(run_dir: RunDir, spec: StageSpec, config_hash: str, prints: dict) -> bool:
    entry = run_dir.stage_entry(spec.name)
    return (
        entry.get("status") == "done"
        and entry.get("config_hash") == config_hash
        and entry.get("inputs") == prints
        and all(p.exists() for p in spec.outputs(run_dir))
    )


def _prepare(run_dir: RunDir, stage: str, config_hash: str) -> None:
    """Keep a crashed stage's checkpoints only if its config is unchanged; else start clean."""
    entry = run_dir.stage_entry(stage)
    resumable = entry.get("status") == "running" and entry.get("config_hash") == config_hash
    if stage == "train" and not resumable:
        shutil.rmtree(run_dir.train, ignore_errors=True)


def _cleanup(run_dir: RunDir, stage: str) -> None:
    if stage == "train":  # the finished adapter is saved; resume state is no longer needed
        shutil.rmtree(run_dir.train / "checkpoints", ignore_errors=True)


def _run_data(recipe: Recipe, run_dir: RunDir) -> None:
    from tunesmith.data.stage import run

    run(recipe, run_dir)


def _run_train(recipe: Recipe, run_dir: RunDir) -> None:
    from tunesmith.progress import TrainingBar
    from tunesmith.train.stage import run

    bars = TrainingBar()
    try:
        run(recipe, run_dir, progress=bars)
    finally:
        bars.close()


def _run_evaluate(recipe: Recipe, run_dir: RunDir) -> None:
    from tunesmith.evaluate.stage import run
    from tunesmith.progress import GenerationBars

    bars = GenerationBars()
    try:
        run(recipe, run_dir, progress=bars)
    finally:
        bars.close()


def _run_report(recipe: Recipe, run_dir: RunDir) -> None:
    from tunesmith.report.html import run

    run(recipe, run_dir)


class _stage_log:
    """Send log records (ours, transformers', warnings) to logs/<stage>.log while it runs."""

    def __init__(self, run_dir: RunDir, stage: str) -> None:
        self.handler = logging.FileHandler(run_dir.logs / f"{stage}.log", encoding="utf-8")
        self.handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )

    def __enter__(self):
        logging.captureWarnings(True)
        root = logging.getLogger()
        root.addHandler(self.handler)
        root.setLevel(min(root.level or logging.INFO, logging.INFO))
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        return False
