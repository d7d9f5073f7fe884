"""`tunesmith evaluate RUN --split val|test`."""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import UserError


def evaluate_run(run: Path, split: str) -> None:
    from tunesmith.artifacts import RunDir
    from tunesmith.cli.eval_print import direction_note, figures, rows_table
    from tunesmith.config import load_recipe
    from tunesmith.evaluate.stage import run as run_evaluate
    from tunesmith.progress import GenerationBars

    if not (Path(run) / "recipe.yaml").is_file():
        raise UserError(f"{run}: not a run folder (no recipe.yaml)")
    run_dir = RunDir(run)
    if run_dir.stage_entry("train").get("status") != "done":
        raise UserError(f"{run}: the train stage has not finished; run `tunesmith run` first")
    recipe = load_recipe(Path(run) / "recipe.yaml")
    bars = GenerationBars()
    try:
        result = run_evaluate(recipe, run_dir, progress=bars, split=split)
    finally:
        bars.close()
    out = figures()
    out.print(rows_table(result.compare))
    out.print(direction_note(result.compare["metrics"]))
    count = result.compare["evaluations"].get(split, 1)
    out.print(f"{split} split evaluated {count} time(s) in this run folder")
    from tunesmith.report.html import refresh_report

    refresh_report(Path(run))  # the report showed the figures of before (and no export rows)
