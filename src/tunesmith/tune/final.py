"""After the search: hpo/best.yaml, then the best and the default recipe each trained once and
evaluated once on the test split, compared on the same test examples with the evaluation
layer's run-vs-run statistics (`evaluate/runs.py`, the mechanism of `tunesmith compare`)."""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import RunDir, atomic_write_text, write_json
from tunesmith.config import Recipe, dump_recipe
from tunesmith.config.overrides import override_recipe
from tunesmith.errors import UserError
from tunesmith.tune.shared_data import share_with, training_stages

# Run after the recipe's own training stages (shared_data.training_stages).
FINAL_STAGES = ("evaluate", "report")


def plain(recipe: Recipe) -> Recipe:
    """The recipe without its search section (what `tunesmith run` would run)."""
    return override_recipe(recipe, {"search": None})


def best_recipe(recipe: Recipe, study) -> Recipe:
    """The base recipe with the best complete trial's values."""
    try:
        best = study.best_trial
    except ValueError:
        raise UserError("search: no trial completed, so there is no best recipe yet") from None
    return plain(override_recipe(recipe, best.user_attrs["overrides"], source="best trial"))


def write_best(recipe: Recipe, study, hpo_dir: Path) -> Recipe:
    best = best_recipe(recipe, study)
    header = (
        f"# best recipe of study '{study.study_name}': trial {study.best_trial.number}, "
        f"objective {study.best_value:.6g}\n"
    )
    atomic_write_text(hpo_dir / "best.yaml", header + dump_recipe(best))
    return best


def best_vs_default(recipe: Recipe, best: Recipe, hpo_dir: Path, on_stage=None) -> dict:
    """Train and test both recipes on the shared curated data; compare them (best - default)."""
    from tunesmith.pipeline import run_pipeline

    default = plain(recipe)
    runs = {}
    for name, candidate in (("default", default), ("best", best)):
        run_dir = RunDir(hpo_dir / "final" / name)
        share_with(candidate, hpo_dir, run_dir, with_test=True)
        stages = [*training_stages(candidate), *FINAL_STAGES]
        run_pipeline(candidate, run_dir, on_stage=on_stage, only=stages, force=False)
        runs[name] = run_dir
    result = paired_runs(recipe, runs["default"].root, runs["best"].root)
    result["runs"] = {name: str(run.root) for name, run in runs.items()}
    write_json(hpo_dir / "final" / "compare.json", result)
    return result


def paired_runs(recipe: Recipe, default: Path, best: Path) -> dict:
    """{a: default, b: best, n_shared, metrics: {key: paired delta b - a with interval, p}}."""
    from tunesmith.config.tasks import metric_keys
    from tunesmith.evaluate.runs import compare_predictions, run_info, run_predictions

    ev = recipe.evaluation
    result = compare_predictions(
        run_predictions(default),
        run_predictions(best),
        metric_keys(recipe.metrics()),
        run_info(default)["labels"],
        ev.bootstrap_resamples,
        ev.bootstrap_seed,
        ev.alpha,
    )
    return {"a": "default", "b": "best", "confidence": 1 - ev.alpha, **result}
