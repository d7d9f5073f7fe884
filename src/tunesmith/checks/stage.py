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
from tunesmith.stages import PreflightHook, StageSpec, register_stage


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


def _fits_test(recipe: Recipe, test_count: int) -> list[str]:
    """The enabled checks' sample needs (checks.explain.k...) against a test split of
    `test_count` examples: a check asking for more than there are failed after training."""
    from tunesmith.checks.registry import enabled_checks

    checks = [c for c in enabled_checks(recipe) if c.skip_reason(recipe) is None]
    for check in checks:
        check.fits_test(recipe, test_count)
    return [f"checks: ok (test split of {test_count} fits)"] if checks else []


def _lexicons_read(recipe: Recipe, facts) -> list[str]:
    """Each swap lexicon the run will read, read now with this package's reader (the bias
    check's, and the counterfactual curation step's, which reads it too); the shipped one is
    not checked."""
    from tunesmith.checks.lexicon import load_lexicon

    lines = []
    for key, lexicon in _lexicons(recipe):
        load_lexicon(Path(lexicon))
        lines.append(f"{key}.lexicon: ok")
    return lines


def _lexicons(recipe: Recipe) -> list[tuple[str, str]]:
    """(key path, file) of each swap lexicon the run will read."""
    from tunesmith.checks.registry import settings_of

    found = []
    bias = settings_of(recipe, "bias")
    if bias.enabled and bias.lexicon:
        found.append(("checks.bias", bias.lexicon))
    counterfactual = recipe.data.curation.counterfactual
    if counterfactual is not None and counterfactual.lexicon:
        found.append(("data.curation.counterfactual", counterfactual.lexicon))
    return found


register_stage(
    StageSpec(
        "checks",
        60,
        _config,
        _inputs,
        _outputs,
        run,
        applies=_applies,
        preflight=(PreflightHook("files", _lexicons_read),),
        fits_test=_fits_test,
        # 2: its intervals recalibrated as evaluate's (evaluate revision 5); its inputs are the
        # models, not evaluate's outputs, so without this a folder kept the old intervals
        # 3: perplexity intervals studentized as evaluate's (evaluate revision 6)
        # 4: explain attributes the prompt cut as evaluation cut it, not the whole text
        revision=4,
    )
)
