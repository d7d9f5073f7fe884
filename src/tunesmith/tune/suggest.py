"""Turn a search space into one trial's recipe values (Optuna's suggest_* API)."""

from __future__ import annotations

import json
from typing import Any

from tunesmith.config.search import Categorical, Distribution, FloatRange, IntRange

PRIMITIVE = (str, int, float, bool, type(None))


def _float(trial, key: str, dist: FloatRange) -> float:
    return trial.suggest_float(key, dist.low, dist.high, log=dist.log, step=dist.step)


def _int(trial, key: str, dist: IntRange) -> int:
    return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)


def _categorical(trial, key: str, dist: Categorical) -> Any:
    if all(isinstance(c, PRIMITIVE) for c in dist.choices):
        return trial.suggest_categorical(key, dist.choices)
    # Optuna stores only primitive choices: mappings/lists (a curation step's settings)
    # are offered as their JSON text and decoded back.
    label = trial.suggest_categorical(key, [json.dumps(c, sort_keys=True) for c in dist.choices])
    return json.loads(label)


SUGGEST = {"float": _float, "int": _int, "categorical": _categorical}


def suggest_values(trial, space: dict[str, Distribution]) -> dict[str, Any]:
    """{recipe key: value} for this trial, in the space's order."""
    return {key: SUGGEST[dist.type](trial, key, dist) for key, dist in space.items()}
