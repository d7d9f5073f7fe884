"""One trial: compose its recipe, run the recipe's own training stages (e.g. pretrain then
train, or federated) in its own run folder on the shared data (and shared pre-training, see
shared_data.py), report validation perplexity to the pruner at each evaluation step, return
the objective."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith import interrupts
from tunesmith.artifacts import RunDir
from tunesmith.artifacts.files import remove
from tunesmith.config import Recipe
from tunesmith.config.overrides import override_recipe
from tunesmith.errors import UserError, is_user_error
from tunesmith.tune.objective import OBJECTIVES, objective_value
from tunesmith.tune.shared_data import share_with, training_stages
from tunesmith.tune.study import RETRY_ATTR
from tunesmith.tune.suggest import suggest_values

# Trial user attrs: why a trial failed (one line) and whether that was the user's mistake;
# INTERRUPTED marks a trial a Ctrl-C stopped, so that a resumed search retries it.
FAIL_REASON_ATTR = "fail_reason"
USER_ERROR_ATTR = "user_error"
INTERRUPTED_ATTR = "interrupted"


@dataclass
class TrialContext:
    recipe: Recipe
    space: dict
    objective: str
    hpo_dir: Path
    on_value: Callable[[int, int, float], None] = lambda number, step, value: None


def trial_dir(hpo_dir: Path, number: int) -> RunDir:
    return RunDir(hpo_dir / "trials" / f"trial-{number:04d}")


def run_trial(trial, ctx: TrialContext) -> float:
    """Optuna's objective function for one trial.

    A failure is recorded on the trial (one line) and raised again for Optuna to mark the
    trial FAIL; the driver lets the study carry on. A Ctrl-C is never a failure: the trial is
    marked interrupted (so a resumed search retries it) and the interrupt goes on up.
    """
    import optuna

    try:
        return _run(trial, ctx)
    except optuna.TrialPruned:
        raise
    except KeyboardInterrupt:
        trial.set_user_attr(INTERRUPTED_ATTR, True)
        raise
    except Exception as exc:
        if interrupts.requested():
            # a Ctrl-C that surfaced as another error (a library wrapped it) still stops
            trial.set_user_attr(INTERRUPTED_ATTR, True)
            raise KeyboardInterrupt from exc
        _record_failure(trial, ctx, exc)
        raise


def failure_reason(exc: BaseException) -> str:
    """One line for a failed trial: a user error's own message, else the type and first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, UserError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:300]


def _record_failure(trial, ctx: TrialContext, exc: Exception) -> None:
    """The reason in the trial's user attrs (summary, report) and in its run folder's manifest."""
    reason = failure_reason(exc)
    trial.set_user_attr(FAIL_REASON_ATTR, reason)
    trial.set_user_attr(USER_ERROR_ATTR, is_user_error(exc))
    run_dir = trial_dir(ctx.hpo_dir, trial.number)
    if run_dir.root.is_dir():
        drop_resume_state(run_dir)
        run_dir.set_field("hpo", {"state": "failed", "value": None, "reason": reason})


def drop_resume_state(run_dir: RunDir) -> None:
    """Remove what the stages saved to resume (their checkpoints) from a trial folder that will
    not run again: a trial never resumes in its own folder (a retried trial is a new trial in
    a folder of its own), so that state is only disk taken. What the trial finished (adapter,
    summary, metrics, report, manifest) stays."""
    from tunesmith.stages import STAGES, load_stages

    load_stages()
    for name in STAGES.names():
        spec = STAGES.get(name)
        if spec.resumes:
            for path in spec.scratch(run_dir):
                remove(path)


def _run(trial, ctx: TrialContext) -> float:
    import math

    import optuna

    from tunesmith.pipeline import run_pipeline
    from tunesmith.tracking.observers import observing

    values = suggest_values(trial, ctx.space)
    trial.set_user_attr("overrides", values)
    recipe = override_recipe(ctx.recipe, values, source=f"trial {trial.number}")
    run_dir = trial_dir(ctx.hpo_dir, trial.number)
    trial.set_user_attr("run_dir", str(run_dir.root))
    if RETRY_ATTR in trial.user_attrs:  # the attempt it repeats (interrupted, or its worker died)
        drop_resume_state(trial_dir(ctx.hpo_dir, trial.user_attrs[RETRY_ATTR]))
    share_with(recipe, ctx.hpo_dir, run_dir)
    try:
        with observing(_pruning_observer(trial, ctx)):
            # never `evaluate`: it reads the test split; shared stages are skipped as done
            run_pipeline(recipe, run_dir, only=training_stages(recipe), force=False)
    except optuna.TrialPruned:
        _finish(recipe, run_dir, "pruned", None)
        raise
    value = objective_value(recipe, run_dir, ctx.objective)
    if not math.isfinite(value):  # Optuna would fail it with a warning but no reason
        raise ValueError(f"the objective {ctx.objective} is {value}")
    _finish(recipe, run_dir, "complete", value)
    return value


def _pruning_observer(trial, ctx: TrialContext):
    import optuna

    intermediate = OBJECTIVES[ctx.objective].intermediate

    def observe(record: dict) -> None:
        if "val_ppl" not in record:
            return
        step, ppl = int(record["step"]), float(record["val_ppl"])
        ctx.on_value(trial.number, step, ppl)
        trial.report(intermediate(ppl), step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (val_ppl {ppl:.4g})")

    return observe


def _finish(recipe: Recipe, run_dir: RunDir, state: str, value: float | None) -> None:
    """Mark the run folder with the trial's outcome and write its own report."""
    from tunesmith.pipeline import run_pipeline

    drop_resume_state(run_dir)  # a pruned trial will not resume either
    if state == "pruned":  # the trainer (train, or federated) is the stage that was stopped
        run_dir.update_stage(training_stages(recipe)[-1], status="pruned")
    run_dir.set_field("hpo", {"state": state, "value": value})
    run_pipeline(recipe, run_dir, only=["report"], force=False)
