"""hpo/report.html: optimisation history, parameter importances, a slice view, trial counts,
time spent, best vs default on test. Self-contained (plots are inline PNG), text escaped."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from tunesmith.artifacts import atomic_write_text

PLOTS = {
    "Optimisation history": "plot_optimization_history",
    "Parameter importances": "plot_param_importances",
    "Slice view": "plot_slice",
    "Parallel coordinates": "plot_parallel_coordinate",
}


def study_summary(study, seconds: float) -> dict:
    """Counts per state, best trial, and time spent (this command and all trials)."""
    counts: dict[str, int] = {}
    trial_seconds = 0.0
    for trial in study.get_trials(deepcopy=False):
        state = trial.state.name.lower()
        counts[state] = counts.get(state, 0) + 1
        if trial.datetime_start and trial.datetime_complete:
            trial_seconds += (trial.datetime_complete - trial.datetime_start).total_seconds()
    summary = {
        "study": study.study_name,
        "direction": study.direction.name.lower(),
        "counts": counts,
        "seconds_this_command": round(seconds, 1),
        "seconds_in_trials": round(trial_seconds, 1),
    }
    failed = [failure(t) for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL"]
    if failed:
        summary["failed"] = failed
    completed = [t for t in study.get_trials(deepcopy=False) if t.value is not None]
    if completed:
        best = study.best_trial
        summary["best"] = {
            "number": best.number,
            "value": best.value,
            "values": best.user_attrs.get("overrides", {}),
            "run_dir": best.user_attrs.get("run_dir"),
        }
    return summary


def failure(trial) -> dict:
    """A failed trial's number, values and one-line reason (why it did not count)."""
    from tunesmith.tune.trial import FAIL_REASON_ATTR, INTERRUPTED_ATTR

    if trial.user_attrs.get(INTERRUPTED_ATTR):
        reason = "interrupted (Ctrl-C)"
    else:
        reason = trial.user_attrs.get(FAIL_REASON_ATTR, "unknown (no reason recorded)")
    return {
        "number": trial.number,
        "values": trial.user_attrs.get("overrides", {}),
        "reason": reason,
    }


def importances(study) -> dict[str, float]:
    """Optuna's own (fANOVA) parameter importances; empty when too few trials."""
    import optuna

    try:
        return optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError):
        return {}


def plots(study) -> dict[str, str]:
    """{title: base64 PNG}; a plot Optuna cannot draw yet (too few trials) is left out."""
    import logging

    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # categorical-axis chatter
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    images = {}
    for title, name in PLOTS.items():
        try:
            axes = getattr(ovm, name)(study)
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue
        figure = _figure(axes)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
        plt.close(figure)
        images[title] = base64.b64encode(buffer.getvalue()).decode("ascii")
    return images


def _figure(axes):
    import numpy as np

    first = np.asarray(axes).flat[0] if isinstance(axes, np.ndarray) else axes
    return first.get_figure()


def write_report(study, summary: dict, hpo_dir: Path) -> Path:
    import warnings

    from tunesmith.report.templating import html_templates

    env = html_templates("tune")
    with warnings.catch_warnings():  # Optuna marks its matplotlib backend experimental
        warnings.simplefilter("ignore")
        images = plots(study)
    page = env.get_template("report.html.j2").render(
        summary=summary, importances=importances(study), plots=images, hpo_dir=str(hpo_dir)
    )
    out = hpo_dir / "report.html"
    atomic_write_text(out, page)
    return out
