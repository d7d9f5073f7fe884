"""The curation-step contract: a registered `Step` turns splits into splits plus dropped rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tunesmith.registry import Registry

Splits = dict[str, list[dict]]


@dataclass
class Drop:
    """A row a step removed, why, and details for the log (duplicate_of, score, ...)."""

    row: dict
    reason: str
    detail: dict = field(default_factory=dict)


@dataclass
class StepOutput:
    splits: Splits
    dropped: list[Drop] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One curation step.

    `phase` "pre" runs on all rows before the split (the splits dict holds one key, "all");
    "post" runs on {"train", "val", "test"}. Steps run by ascending `order` within a phase.
    `config_key` names the CurationConfig field that configures (and switches on) the step.
    """

    name: str
    phase: Literal["pre", "post"]
    order: int
    config_key: str
    run: Callable[[Splits, Any, Any], StepOutput]
    summary: str


CURATION_STEPS: Registry[Step] = Registry("curation step")


def register_step(
    name: str, phase: Literal["pre", "post"], order: int, summary: str, config_key: str = ""
) -> Callable[[Callable], Callable]:
    """Decorator: register `run(splits, config, ctx) -> StepOutput` as a curation step."""

    def add(run: Callable) -> Callable:
        CURATION_STEPS.register(name, Step(name, phase, order, config_key or name, run, summary))
        return run

    return add


def steps_of(phase: str) -> list[Step]:
    """Registered steps of a phase, in running order."""
    steps = [CURATION_STEPS.get(n) for n in CURATION_STEPS.names()]
    return sorted((s for s in steps if s.phase == phase), key=lambda s: s.order)


def keep_all(splits: Splits) -> StepOutput:
    return StepOutput(splits={k: list(v) for k, v in splits.items()})
