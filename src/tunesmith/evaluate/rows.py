"""Evaluation rows: the models scored side by side on the same examples (agreed interface,
see docs/evaluation.md). Another stage's model joins the comparison with one `register_row`.

Every non-base row is compared against "base"; the "tuned" row also against every other row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunesmith.registry import Registry

if TYPE_CHECKING:
    from tunesmith.artifacts import RunDir
    from tunesmith.config.schema import Recipe


@dataclass(frozen=True)
class ModelRow:
    name: str  # key in metrics.json / compare.json / predictions file names
    label: str  # human label for the report / CLI
    order: int  # sort key: base=0, few_shot=10, tuned=100; others in between
    applies: Callable[[Recipe, RunDir], bool]  # is this row scored for this run?
    inputs: Callable[[Recipe, RunDir], list[Path]]  # run-folder files it reads (stage inputs)
    load: Callable[[Recipe, RunDir, object], object]  # (recipe, run_dir, plain base) -> model
    demos: Callable[[Recipe, RunDir], list[dict]] | None = None  # few-shot demonstrations
    # A row that is no language model (the classic baseline) scores examples itself:
    # (recipe, run_dir, examples, labels) -> prediction rows; `load` is then not called.
    score: Callable[[Recipe, RunDir, list[dict], list[str] | None], list[dict]] | None = None


ROWS: Registry[ModelRow] = Registry("evaluation row")


def register_row(row: ModelRow) -> ModelRow:
    ROWS.register(row.name, row)
    return row


def rows_for(recipe: Recipe, run_dir: RunDir) -> list[ModelRow]:
    """The rows scored for this run, sorted by `order`."""
    from tunesmith.stages import load_stages

    # Rows (and their extra pairs) register when their package's stage is imported: the
    # pipeline imports every stage, but `tunesmith evaluate RUN` calls the evaluate stage
    # alone, and would otherwise score (and rewrite compare.json with) base/few-shot/tuned only.
    load_stages()
    rows = [ROWS.get(name) for name in ROWS.names()]
    return sorted((r for r in rows if r.applies(recipe, run_dir)), key=lambda r: r.order)


# Further (a, b) comparisons a row's owner asks for (distill: labels-only vs distilled).
EXTRA_PAIRS: list[tuple[str, str]] = []


def register_pair(a: str, b: str) -> None:
    """Also compare row b against row a (b minus a) whenever both are scored."""
    if (a, b) not in EXTRA_PAIRS:
        EXTRA_PAIRS.append((a, b))


def row_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(a, b) comparisons, b minus a: base vs every row, every other row vs tuned, and the
    registered extra pairs."""
    pairs = [("base", n) for n in names if n != "base" and "base" in names]
    if "tuned" in names:
        pairs += [(n, "tuned") for n in names if n not in ("base", "tuned")]
    return pairs + [(a, b) for a, b in EXTRA_PAIRS if a in names and b in names]


def row_inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    """The union of the applicable rows' inputs (the evaluate stage declares these)."""
    seen: dict[Path, None] = {}
    for row in rows_for(recipe, run_dir):
        seen.update(dict.fromkeys(row.inputs(recipe, run_dir)))
    return list(seen)
