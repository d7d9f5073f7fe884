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


def notify(record: dict) -> None:
    for callback in list(_OBSERVERS):
        callback(record)
