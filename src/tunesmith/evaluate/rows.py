"""Evaluation rows: the models scored side by side on the same test examples.

The agreed interface (owned by the evaluation work): a row is registered once, by the package
that produces what it scores; the evaluate stage scores every applicable row in `order`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith.registry import Registry


@dataclass(frozen=True)
class ModelRow:
    name: str  # key in metrics.json / compare.json / predictions file names
    label: str  # human label for the report / CLI
    order: int  # sort key: base=0, few_shot=10, tuned=100; others in between
    applies: Callable  # (recipe, run_dir) -> bool: is this row scored for this run?
    inputs: Callable  # (recipe, run_dir) -> list[Path]: run-folder files it reads
    load: Callable  # (recipe, run_dir, plain_base_model) -> the model to score
    demos: Callable | None = None  # (recipe, run_dir) -> few-shot demonstrations, or None


ROWS: Registry[ModelRow] = Registry("evaluation row")


def register_row(row: ModelRow) -> ModelRow:
    ROWS.register(row.name, row)
    return row


def rows_for(recipe, run_dir) -> list[ModelRow]:
    """Applicable rows, sorted by order."""
    rows = [ROWS.get(name) for name in ROWS.names()]
    return sorted((r for r in rows if r.applies(recipe, run_dir)), key=lambda r: r.order)


def row_inputs(recipe, run_dir) -> list[Path]:
    """The union of the applicable rows' inputs (the evaluate stage declares these)."""
    seen: dict[Path, None] = {}
    for row in rows_for(recipe, run_dir):
        seen.update(dict.fromkeys(row.inputs(recipe, run_dir)))
    return list(seen)
