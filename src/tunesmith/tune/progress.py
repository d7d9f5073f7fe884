"""Live progress of a search: one line per finished trial and an overall bar."""

from __future__ import annotations

import contextlib
import time

from tunesmith.interrupts import raise_if_interrupted
from tunesmith.progress import _progress, console


def _params(values: dict) -> str:
    return "  ".join(f"{k.rsplit('.', 1)[-1]}={_short(v)}" for k, v in values.items())


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class TuneProgress:
    """Overall bar against the trial (or time) budget; `on_value` shows the running trial."""

    def __init__(self, total: int, done: int, timeout: float | None, label: str) -> None:
        self.total, self.timeout, self.label = total, timeout, label
        self.started = time.monotonic()
        self._stack = contextlib.ExitStack()
        self._progress = self._stack.enter_context(_progress())
        self._task = self._progress.add_task("search", total=total, completed=done, info="")

    def on_value(self, number: int, step: int, value: float) -> None:
        raise_if_interrupted()
        info = f"trial {number}: step {step} val_ppl {value:.4g}"
        self._progress.update(self._task, info=info + self._time_left())

    def on_trial(self, study, trial) -> None:
        """Optuna callback: print the finished trial and advance the bar."""
        state = trial.state.name.lower()
        value = f"{self.label} {trial.value:.4g}" if trial.value is not None else ""
        if trial.user_attrs.get("fail_reason"):
            value = trial.user_attrs["fail_reason"]
        console.print(
            f"trial {trial.number:>3}  {_params(trial.user_attrs.get('overrides', {}))}  "
            f"{value}  [bold]{state}[/bold]"
        )
        # the study's count, not this command's: other workers' trials fill the budget too
        done = min(finished_count(study), self.total)
        self._progress.update(self._task, completed=done, info=self._time_left())

    def _time_left(self) -> str:
        if self.timeout is None:
            return ""
        left = max(0.0, self.timeout - (time.monotonic() - self.started))
        return f"  ({left / 60:.0f} min of budget left)"

    def close(self) -> None:
        self._stack.close()


def finished_count(study) -> int:
    """Trials that count towards the budget: complete and pruned."""
    import optuna

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=finished))


class QuietProgress:
    """No output (library use, tests)."""

    def on_value(self, number: int, step: int, value: float) -> None:
        pass

    def on_trial(self, study, trial) -> None:
        pass

    def close(self) -> None:
        pass
