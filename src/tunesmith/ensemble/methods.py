"""Ensembles at the output: one registered `EnsembleMethod` per `group.ensembles` name.

A method owns whether it applies (classification votes need labels, generation selections
need generated text), and how it turns the members' aligned prediction rows into one output
per example. Nothing else branches on its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tunesmith.errors import UserError
from tunesmith.registry import Registry


@dataclass
class EnsembleInputs:
    recipe: object  # the group's recipe
    examples: list[dict]  # the test examples, in the members' row order
    rows: list[list[dict]]  # per member: its prediction rows (aligned with `examples`)
    labels: list[str] | None
    members: list = None  # GroupMember list, for methods that re-score with the models
    on_step: Callable | None = None  # (label, total) -> progress callback, or None
    # What a method measured while combining, by method name, for the group's compare.json:
    # the likelihood ensemble's {"truncation": {member: cut counts}} (models/truncation.py)
    records: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    prediction: str
    probabilities: dict | None = None  # averaged label probabilities (probability vote)


@dataclass(frozen=True)
class EnsembleMethod:
    name: str
    label: str  # for the report
    # (task spec) -> bool: the task alone decides, so a listed method the task lacks is
    # refused before a group writes or trains anything (`check_listed`)
    suits: Callable[[object], bool]
    combine: Callable[[EnsembleInputs], list[Choice]]
    # (inputs) -> bool: what only the members' saved predictions tell (label probabilities)
    needs: Callable[[EnsembleInputs], bool] | None = None
    needs_what: str = ""  # what `needs` looks for, in words, for the refusal
    # what the method adds up per token of each member's own vocabulary, in words ("" for
    # none): across members of different tokenizers that sum mixes units, so a group of such
    # members refuses the method when listed and skips it by default. The others combine what
    # any vocabulary gives alike: texts (MBR), labels and per-label probabilities.
    per_token_scores: str = ""

    def applies(self, spec, inputs: EnsembleInputs) -> bool:
        return self.suits(spec) and (self.needs is None or self.needs(inputs))


ENSEMBLES: Registry[EnsembleMethod] = Registry("ensemble method")


def register_ensemble(method: EnsembleMethod) -> EnsembleMethod:
    ENSEMBLES.register(method.name, method)
    return method


def load_ensembles() -> None:
    from tunesmith.ensemble import generation, votes  # noqa: F401  (register the methods)


def check_listed(recipe) -> None:
    """UserError for a `group.ensembles` name the recipe's task lacks (a vote on a generation
    task, say): `validate` refuses it, and `group` before it writes anything, rather than after
    every member trained. The default (none listed) takes those that apply."""
    from tunesmith.config.tasks import task_spec

    load_ensembles()
    spec = task_spec(recipe.task)
    for name in recipe.group.ensembles or []:
        method = ENSEMBLES.get(name)
        if not method.suits(spec):
            raise not_applicable(recipe, method)


def not_applicable(recipe, method: EnsembleMethod) -> UserError:
    """The one line for a listed method that cannot run: the task lacks it (`check_listed`,
    before anything is written), or the members' predictions lack what it needs (known only
    once they are scored)."""
    from tunesmith.config.tasks import task_spec

    if method.suits(task_spec(recipe.task)):
        why = f"needs {method.needs_what or 'what'} the members' predictions lack"
    else:
        why = f"does not apply to this {recipe.task} task"
    return UserError(f"group.ensembles: '{method.name}' ({method.label}) {why}")
