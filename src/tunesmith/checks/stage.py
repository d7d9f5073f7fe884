"""Checks stage: the registered model risk checks, after evaluate, on base and tuned.

Reads data/test.jsonl, data/train.jsonl, what the base and tuned rows read, and what each
enabled check declares; writes eval/checks/<check>.json (results, seconds) and
eval/checks/summary.json (which checks ran, were skipped and why, their cost).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, write_json
from tunesmith.artifacts.run_dir import run_folder
from tunesmith.config.schema import Recipe
from tunesmith.stages import StageSpec, register_stage


@dataclass
class ChecksResult:
    ran: list[str]
    skipped: dict[str, str]
    seconds: dict[str, float]


def checks_dir(run_dir: RunDir) -> Path:
    return run_dir.eval / "checks"


def run(recipe: Recipe, run_dir: RunDir) -> ChecksResult:
    from tunesmith.checks.context import CheckContext
    from tunesmith.checks.registry import enabled_checks, settings_of

    checks = enabled_checks(recipe)
    for check in checks:  # bad input fails before any model is loaded
        if check.skip_reason(recipe) is None:
            check.validate(recipe, run_dir)
    ctx, out = CheckContext(recipe, run_dir), checks_dir(run_dir)
    run_folder(out)
    result = ChecksResult([], {}, {})
    for check in checks:
        reason = check.skip_reason(recipe)
        if reason is not None:
            result.skipped[check.name] = reason
            continue
        start = time.perf_counter()
        data = check.run(ctx, settings_of(recipe, check.name))
        seconds = round(time.perf_counter() - start, 2)
        write_json(out / f"{check.name}.json", {"check": check.name, "seconds": seconds, **data})
        result.ran.append(check.name)
        result.seconds[check.name] = seconds
    write_json(out / "summary.json", _summary(checks, result))
    return result


def _summary(checks, result: ChecksResult) -> dict:
    return {
        "checks": [
            {
                "name": c.name,
                "title": c.title,
                "status": "ran" if c.name in result.ran else "skipped",
                "reason": result.skipped.get(c.name),
                "seconds": result.seconds.get(c.name),
            }
            for c in checks
        ]
    }


def _applies(recipe: Recipe) -> bool:
    from tunesmith.checks.registry import enabled_checks

    return bool(enabled_checks(recipe))


def _config(recipe: Recipe) -> tuple:
    return (
        recipe.task,
        recipe.model,
        recipe.training.max_seq_length,
        recipe.evaluation,
        recipe.checks,
    )


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    from tunesmith.checks.registry import enabled_checks
    from tunesmith.evaluate import model_rows  # noqa: F401  (registers base and tuned)
    from tunesmith.evaluate.rows import ROWS

    files = [run_dir.data / "test.jsonl", run_dir.data / "train.jsonl"]
    for name in ("base", "tuned"):
        files += ROWS.get(name).inputs(recipe, run_dir)
    for check in enabled_checks(recipe):
        if check.skip_reason(recipe) is None:
            files += check.inputs(recipe, run_dir)
    return list(dict.fromkeys(files))


def _outputs(run_dir: RunDir) -> list[Path]:
    return [checks_dir(run_dir) / "summary.json"]


register_stage(StageSpec("checks", 60, _config, _inputs, _outputs, run, applies=_applies))
