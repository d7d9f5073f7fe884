"""The report stage's spec: report/report.html from the files earlier stages wrote."""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import RunDir
from tunesmith.config.schema import Recipe
from tunesmith.report.deploy import deploy_inputs
from tunesmith.stages import StageSpec, register_stage


def _config(recipe: Recipe) -> tuple:
    return (recipe,)


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    files = [run_dir.data / "data_card.json", run_dir.train / "metrics.jsonl"]
    # Written only where they apply; the report shows what there is: a search trial has no
    # evaluation nor domain scores (a pruned one no training summary), completion writes no
    # predictions, the human summary comes once rated.
    optional = [
        run_dir.train / "summary.json",
        run_dir.root / "domain" / "metrics.json",
        run_dir.eval / "metrics.json",
        run_dir.eval / "compare.json",
        run_dir.eval / "errors.json",
        run_dir.eval / "human.json",
        run_dir.eval / "predictions",
    ]
    files += [path for path in optional if path.exists()]
    checks = run_dir.eval / "checks"  # written by the checks stage when a check is on
    files += [checks] if (checks / "summary.json").is_file() else []
    files += deploy_inputs(run_dir)  # export/exports.json, distill/summary.json
    if recipe.pretrain is not None:
        files.append(run_dir.root / "pretrain" / "metrics.json")
    return files


def _outputs(run_dir: RunDir) -> list[Path]:
    return [run_dir.report / "report.html"]


def _run(recipe: Recipe, run_dir: RunDir) -> Path:
    from tunesmith.report.html import run

    return run(recipe, run_dir)


register_stage(StageSpec("report", 90, _config, _inputs, _outputs, _run))
