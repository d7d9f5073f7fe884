"""In-process observers of every logged metrics record (e.g. a search trial's pruner).

A driver wraps a stage in `observing(callback)`; trackers call `notify(record)` after logging.
An observer may raise (optuna.TrialPruned) to stop the run; the record is already written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

_OBSERVERS: list[Callable[[dict], None]] = []


@contextlib.contextmanager
def observing(callback: Callable[[dict], None]) -> Iterator[None]:
    """Call `callback(record)` for every record logged while the block runs."""
    _OBSERVERS.append(callback)
    try:
        yield
    finally:
        _OBSERVERS.remove(callback)


_STOP = "tunesmith_observer_stop"  # the mark notify sets on an observer's exception


def notify(record: dict) -> None:
    for callback in list(_OBSERVERS):
        try:
            callback(record)
        except Exception as exc:
            setattr(exc, _STOP, True)
            raise


def stopped_by_observer(exc: BaseException) -> bool:
    """Whether `exc` is an observer stopping the run (a search trial pruned): a stop on
    purpose, whose stage keeps what it wrote so far (its curve, for the trial's report), not a
    failure whose partial output is removed."""
    return getattr(exc, _STOP, False)
