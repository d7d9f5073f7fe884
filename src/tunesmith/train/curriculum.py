"""Curriculum learning: difficulty scorers and pacing schedules, each a registered variant.

A batch k is drawn (seeded by k alone, so resuming mid-epoch gives the same batches) from
the easiest `pacing(progress)` share of the training examples; the share grows from
`start_fraction` to 1 by `full_at` of the run. Scorers return one number per example.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from tunesmith.errors import UserError
from tunesmith.registry import Registry

# fn(items, examples, context) -> one difficulty per example (higher = harder)
SCORERS: Registry[Callable] = Registry("curriculum scorer")
# fn(progress in [0, 1], curriculum settings) -> share of the examples in the pool
PACINGS: Registry[Callable] = Registry("curriculum pacing")


@SCORERS.register("length")
def _length(items, examples, context) -> list[float]:
    return [float(len(item.input_ids)) for item in items]


@SCORERS.register("random")
def _random(items, examples, context) -> list[float]:
    rng = random.Random(f"difficulty:{context['seed']}")
    return [rng.random() for _ in items]


@SCORERS.register("field")
def _field(items, examples, context) -> list[float]:
    missing = [e.get("id") for e in examples if not isinstance(e.get("difficulty"), float | int)]
    if missing:
        raise UserError(
            "training.curriculum.scorer 'field': example "
            f"{missing[0]} has no numeric difficulty; set data.difficulty_field"
        )
    return [float(e["difficulty"]) for e in examples]


@SCORERS.register("base_loss")
def _base_loss(items, examples, context) -> list[float]:
    """Mean NLL of the response under the base model, cached in train/ by input hash."""
    from tunesmith.train.difficulty_cache import base_losses

    return base_losses(items, context)


def _ramp(progress: float, settings) -> float:
    return min(1.0, progress / settings.full_at)


@PACINGS.register("linear")
def _linear(progress: float, settings) -> float:
    return settings.start_fraction + (1 - settings.start_fraction) * _ramp(progress, settings)


@PACINGS.register("root")
def _root(progress: float, settings) -> float:
    start = settings.start_fraction
    # Platanios et al. (2019): sqrt of the interpolation of squared shares
    return math.sqrt(start**2 + (1 - start**2) * _ramp(progress, settings))


@PACINGS.register("step")
def _step(progress: float, settings) -> float:
    stage = min(settings.stages - 1, math.floor(_ramp(progress, settings) * settings.stages))
    start = settings.start_fraction
    return start + (1 - start) * stage / (settings.stages - 1)


class CurriculumSampler:
    """Batches from the easiest examples first, widening as `pacing` says."""

    def __init__(self, scores, settings, batch_size: int, total_batches: int, seed: int):
        self.order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
        self.pacing = PACINGS.get(settings.pacing)
        self.settings, self.batch_size = settings, batch_size
        self.total, self.seed = max(total_batches, 1), seed

    def pool_size(self, k: int) -> int:
        share = self.pacing(k / self.total, self.settings)
        return min(len(self.order), max(self.batch_size, math.ceil(share * len(self.order))))

    def batches(self, skip: int):
        k = skip
        while True:
            rng = random.Random(f"curriculum:{self.seed}:{k}")
            pool = self.order[: self.pool_size(k)]
            yield rng.sample(pool, min(self.batch_size, len(pool)))
            k += 1


def difficulty_summary(scores: list[float], settings) -> dict:
    """What the report shows: the scorer, pacing and the difficulty distribution."""
    import numpy as np

    values = np.asarray(scores, dtype=float)
    counts, edges = np.histogram(values, bins=min(10, max(1, len(values))))
    return {
        "scorer": settings.scorer,
        "pacing": settings.pacing,
        "start_fraction": settings.start_fraction,
        "full_at": settings.full_at,
        "examples": len(scores),
        "quantiles": {str(q): float(np.quantile(values, q)) for q in (0.0, 0.25, 0.5, 0.75, 1.0)},
        "histogram": {"counts": counts.tolist(), "edges": [float(e) for e in edges]},
    }
