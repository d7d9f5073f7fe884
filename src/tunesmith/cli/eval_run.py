"""`tunesmith evaluate RUN --split val|test`."""

from __future__ import annotations

from pathlib import Path


def evaluate_run(run: Path, split: str) -> None:
    from tunesmith.cli.eval_print import direction_note, figures, rows_table
    from tunesmith.cli.export_cmd import finished_run, run_lock
    from tunesmith.evaluate.stage import run as run_evaluate
    from tunesmith.progress import GenerationBars
    from tunesmith.report.html import refresh_report

    recipe, run_dir = finished_run(run)
    with run_lock(run_dir):
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
        refresh_report(Path(run))  # the report showed the figures of before (and no export rows)
