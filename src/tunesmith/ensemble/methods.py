"""Ensembles at the output: one registered `EnsembleMethod` per `group.ensembles` name.

A method owns whether it applies (classification votes need labels, generation selections
need generated text), and how it turns the members' aligned prediction rows into one output
per example. Nothing else branches on its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tunesmith.registry import Registry


@dataclass
class EnsembleInputs:
    recipe: object  # the group's recipe
    examples: list[dict]  # the test examples, in the members' row order
    rows: list[list[dict]]  # per member: its prediction rows (aligned with `examples`)
    labels: list[str] | None
    members: list = None  # GroupMember list, for methods that re-score with the models
    on_step: Callable | None = None  # (label, total) -> progress callback, or None


@dataclass(frozen=True)
class Choice:
    prediction: str
    probabilities: dict | None = None  # averaged label probabilities (probability vote)


@dataclass(frozen=True)
class EnsembleMethod:
    name: str
    label: str  # for the report
    applies: Callable[[object, EnsembleInputs], bool]  # (task spec, inputs) -> bool
    combine: Callable[[EnsembleInputs], list[Choice]]


ENSEMBLES: Registry[EnsembleMethod] = Registry("ensemble method")


def register_ensemble(method: EnsembleMethod) -> EnsembleMethod:
    ENSEMBLES.register(method.name, method)
    return method


def load_ensembles() -> None:
    from tunesmith.ensemble import generation, votes  # noqa: F401  (register the methods)
