"""`tunesmith tune`: open the study, run trials until the budget is spent, then the result."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import write_json
from tunesmith.config import Recipe
from tunesmith.config.search import SearchConfig, parse_duration
from tunesmith.config.space import check_space
from tunesmith.drivers import DriverSpec, register_driver
from tunesmith.errors import UserError
from tunesmith.stages import PreflightHook
from tunesmith.tune.objective import OBJECTIVES, metric_name
from tunesmith.tune.reads import check_space_is_read


@dataclass(frozen=True)
class TuneOptions:
    hpo_dir: Path = Path("hpo")
    trials: int | None = None
    timeout: str | None = None
    storage: str | None = None
    study: str | None = None
    worker: bool = False
    show_progress: bool = True
    # Reuse the loaded base model and the tokenised splits across this process's trials;
    # off only to measure what the reuse saves (bench/tune_efficiency.py --no-reuse).
    reuse: bool = True


def tune(recipe: Recipe, options: TuneOptions) -> dict:
    """Run (or continue) the search; without `worker`, also write best.yaml, final runs, report."""
    search = recipe.search or SearchConfig()
    space = check_space(recipe)
    check_space_is_read(recipe, space)
    budget = options.trials if options.trials is not None else search.trials
    if budget < 1:
        raise UserError(f"--trials: {budget}; a search needs at least one trial")
    timeout = _seconds(options.timeout or search.timeout)
    if search.objective == "val_metric":
        metric_name(recipe)
    objective = OBJECTIVES[search.objective]
    check_choices_up_front(recipe, space)
    with _main_lock(options):
        return _search(recipe, options, search, space, budget, timeout, objective)


def check_choices_up_front(recipe: Recipe, space: dict) -> None:
    """A choice that cannot train the model (a method its layers refuse, LoHa on GPT-2's
    Conv1D; target_modules matching no module) would fail every trial that picks it; refuse
    it before the search, as `validate` does (no weights are read)."""
    from tunesmith.models.targets import check_recipe_targets
    from tunesmith.preflight import check_methods

    check_methods(recipe, space)
    check_recipe_targets(recipe, space)


def _require_validation(shared) -> None:
    """Every objective reads the validation split: without one, every trial would train and
    then fail (a failed trial no longer stops the search), so refuse it before the first."""
    from tunesmith.artifacts import read_jsonl

    # read as the trials will: a damaged split is its file:line (a non-UTF-8 byte was a
    # UnicodeDecodeError traceback), a lost one a missing run file (it read as an empty split)
    if not read_jsonl(shared.data / "val.jsonl"):
        raise UserError("data.split.validation: the validation split is empty; a search needs it")


def _main_lock(options: TuneOptions):
    """The main command holds the search folder; workers (`--worker`) join it freely.

    Why: two main commands on one folder would both write best.yaml, final/ and the report.
    A worker only runs trials, which the study's storage keeps apart.
    """
    if options.worker:
        return contextlib.nullcontext()
    from tunesmith.artifacts.lock import RunLock

    options.hpo_dir.mkdir(parents=True, exist_ok=True)
    hint = "wait for it to finish, add --worker to run trials alongside it, or use another --output"
    return RunLock(options.hpo_dir, what="search folder", hint=hint)


def _search(recipe, options, search, space, budget, timeout, objective) -> dict:
    import optuna

    from tunesmith.tune.storage import open_storage
    from tunesmith.tune.study import (
        claim_folder,
        fail_dead_local_trials,
        fingerprint,
        open_study,
        requeue_interrupted_trials,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(options.storage or search.storage, options.hpo_dir)
    name = options.study or search.study or recipe.name
    printed = fingerprint(space, search.objective, search.metric)
    study = open_study(storage, name, search, objective.direction, printed, options.worker)
    claim_folder(options.hpo_dir, study)
    fail_dead_local_trials(study)
    requeue_interrupted_trials(study)
    with _tracked(recipe, options.hpo_dir, study, space) as parent:
        return _trials_and_result(recipe, options, study, space, budget, timeout, parent)


def _tracked(recipe: Recipe, hpo_dir: Path, study, space: dict):
    """The search as one run in the trackers, its trials' (and final runs') stage runs nested
    under it (tracking/parent.py): params the space and objective, tags the study."""
    from tunesmith.tracking.parent import nested_runs

    search = recipe.search or SearchConfig()
    params = {  # each key's distribution as one param: {"type": "float", "low": 0.001, ...}
        f"search.space.{key}": json.dumps(dist.model_dump(mode="json", exclude_none=True))
        for key, dist in space.items()
    } | {
        "search.objective": search.objective,
        "search.direction": study.direction.name.lower(),
    }
    if search.objective == "val_metric":
        params["search.metric"] = metric_name(recipe)
    tags = {"tunesmith.study": study.study_name}
    return nested_runs(recipe.tracking, hpo_dir, "search", params, tags)


def _log_trial(parent, study, trial) -> None:
    """Optuna callback: a complete trial's objective, and the study's best so far, as the
    search run's series by trial number."""
    if trial.value is None or trial.state.name != "COMPLETE":
        return
    figures = {"search/objective": trial.value, "search/best": study.best_value}
    parent.log_metrics(figures, trial.number)


def _trials_and_result(recipe, options, study, space, budget, timeout, parent) -> dict:
    import optuna
    from optuna.study import MaxTrialsCallback

    from tunesmith.tune.progress import finished_count
    from tunesmith.tune.shared_data import curated
    from tunesmith.tune.study import fail_dead_local_trials, wait_for_other_workers
    from tunesmith.tune.trial import TrialContext, run_trial

    search = recipe.search or SearchConfig()
    # once, before any trial (and data errors surface now)
    _require_validation(curated(recipe, options.hpo_dir))
    started = time.perf_counter()
    bar = _progress(study, budget, timeout, search.objective, options.show_progress)
    ctx = TrialContext(recipe, space, search.objective, options.hpo_dir, bar.on_value)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    try:
        with _reusing(options.reuse), _quiet_failed_trials():
            if finished_count(study) < budget:
                study.optimize(
                    lambda trial: run_trial(trial, ctx),
                    timeout=timeout,
                    # a failed trial is recorded and the study goes on; KeyboardInterrupt is
                    # not an Exception, so Ctrl-C still stops the search
                    catch=(Exception,),
                    callbacks=[
                        MaxTrialsCallback(budget, states=finished),
                        StopAfterFailures(budget),
                        bar.on_trial,
                        lambda study, trial: _log_trial(parent, study, trial),
                        # a worker killed meanwhile: its trial retried now, not at a restart
                        lambda study, trial: fail_dead_local_trials(study),
                    ],
                )
    finally:
        bar.close()
    if not options.worker:  # the result names every trial: those still running elsewhere too
        wait_for_other_workers(study, on_wait=_waiting_line(options.show_progress))
    check_some_trial_completed(study)
    summary = _result(recipe, study, options, time.perf_counter() - started)
    written = [options.hpo_dir / name for name in RESULT_FILES if not options.worker]
    for path in written:  # the search's outcome, beside its figures
        if path.is_file():
            parent.log_artifact(path)
    return summary


RESULT_FILES = ("best.yaml", "summary.json", "report.html")


class SearchFailed(UserError):
    """No trial completed and some failed: one line naming the first failure; exit 2 only
    when that failure was the user's mistake (a UserError in the trial)."""

    def __init__(self, message: str, user_error: bool) -> None:
        super().__init__(message)
        self.exit_code = 2 if user_error else 1


class StopAfterFailures:
    """Optuna callback: stop the search once this command has had `limit` failed trials and
    not one that finished (complete or pruned).

    Why: failed trials do not count towards the budget (complete + pruned), so a failure that
    every trial meets (a bad setting in the recipe itself) would otherwise repeat forever; a
    search where some trials succeed goes on to its budget.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.failed, self.finished = limit, 0, 0

    def __call__(self, study, trial) -> None:
        if trial.state.name == "FAIL":
            self.failed += 1
        elif trial.state.is_finished():
            self.finished += 1
        if self.failed >= self.limit and not self.finished:
            study.stop()


def check_some_trial_completed(study) -> None:
    """Raise SearchFailed when the study has failed trials and not one complete trial."""
    import optuna

    from tunesmith.tune.trial import FAIL_REASON_ATTR, USER_ERROR_ATTR

    states = optuna.trial.TrialState
    if study.get_trials(deepcopy=False, states=(states.COMPLETE,)):
        return
    failed = study.get_trials(deepcopy=False, states=(states.FAIL,))
    failed = [t for t in failed if FAIL_REASON_ATTR in t.user_attrs]
    if not failed:
        return  # nothing failed for a reason (e.g. all pruned): write_best says so
    first = failed[0]
    raise SearchFailed(
        f"search: no trial completed; {len(failed)} failed, the first (trial {first.number}): "
        f"{first.user_attrs[FAIL_REASON_ATTR]}",
        bool(first.user_attrs.get(USER_ERROR_ATTR)),
    )


def _result(recipe: Recipe, study, options: TuneOptions, seconds: float) -> dict:
    from tunesmith.tune.final import best_vs_default, write_best
    from tunesmith.tune.report import study_summary, write_report

    summary = study_summary(study, seconds)
    if options.worker:
        return summary
    best = write_best(recipe, study, options.hpo_dir)
    search = recipe.search or SearchConfig()
    if search.final:
        summary["final"] = best_vs_default(recipe, best, options.hpo_dir)
    write_json(options.hpo_dir / "summary.json", summary)
    summary["report"] = str(write_report(study, summary, options.hpo_dir))
    return summary


def _reusing(on: bool):
    """Within the block, trials share the loaded base model and the tokenised data."""
    from tunesmith.models import reuse_loaded_models
    from tunesmith.train.encoded import reuse_encoded

    stack = contextlib.ExitStack()
    if on:
        stack.enter_context(reuse_loaded_models())
        stack.enter_context(reuse_encoded())
    return stack


# Optuna's two records of a failed trial: "Trial 3 failed with parameters: ..." (with the
# traceback) and "Trial 3 failed with value None."
_FAILED_TRIAL = re.compile(r"Trial \d+ failed with ")


class _DropFailedTrials(logging.Filter):
    """Drops Optuna's own failed-trial records, whichever optuna.* logger writes them; every
    other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        from_optuna = record.name == "optuna" or record.name.startswith("optuna.")
        return not (from_optuna and _FAILED_TRIAL.match(record.getMessage()))


@contextlib.contextmanager
def _quiet_failed_trials():
    """Optuna logs each failed trial with a traceback; a failed trial is an outcome of the
    search, not a crash, and its one-line reason is printed (progress), kept (trial user
    attrs) and reported (summary.json, report.html) instead.

    Only those records are dropped, for the block: Optuna's other warnings (a slow journal
    lock, say) still show, and its verbosity is left as it is."""
    drop, handlers = _DropFailedTrials(), _optuna_handlers()
    for handler in handlers:
        handler.addFilter(drop)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(drop)


def _optuna_handlers() -> list[logging.Handler]:
    """The handlers an optuna.* record reaches: those of Optuna's logger (its stderr handler)
    and, while it propagates, of its ancestors; logging's last resort when there are none. A
    filter on the logger itself would not see the records its child loggers
    (optuna.study._optimize) pass up to it."""
    handlers, logger = [], logging.getLogger("optuna")
    while logger is not None:
        handlers += logger.handlers
        logger = logger.parent if logger.propagate else None
    if not handlers and logging.lastResort is not None:
        handlers.append(logging.lastResort)
    return handlers


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UserError(f"--timeout: {exc}") from None


def _waiting_line(show: bool):
    """Says which trials of other workers the result waits for (nothing when quiet)."""
    from tunesmith.progress import console

    def say(numbers: list[int]) -> None:
        if show:
            listed = ", ".join(str(n) for n in numbers)
            console.print(f"waiting for trial {listed} of other workers before the result")

    return say


def _progress(study, budget: int, timeout, label: str, show: bool):
    from tunesmith.tune.progress import QuietProgress, TuneProgress, finished_count

    if not show:
        return QuietProgress()
    return TuneProgress(budget, min(finished_count(study), budget), timeout, label)


def _space_is_read(recipe: Recipe, facts) -> list[str]:
    """`search:`: every key of the space is one a trial reads (the values were checked
    against the schema as the space was read)."""
    if facts.space is None:
        return []
    check_space_is_read(recipe, facts.space)
    keys = len(facts.space)
    return [f"search.space: ok ({keys} keys, every value accepted and read by trials)"]


def _objective_has_metric(recipe: Recipe, facts) -> list[str]:
    """`objective: val_metric` on a task with no metric but perplexity (completion) would
    stop `tune` at once: `validate` says so too."""
    if recipe.search is None or recipe.search.objective != "val_metric":
        return []
    return [f"search.objective: ok (val_metric maximises {metric_name(recipe)})"]


register_driver(
    DriverSpec(
        "tune",
        preflight=(
            PreflightHook("search", _space_is_read),
            PreflightHook("search", _objective_has_metric),
        ),
    )
)
