"""Evaluation rows: the models scored side by side on the same examples (agreed interface,
see docs/evaluation.md). Another stage's model joins the comparison with one `register_row`.

Every non-base row is compared against "base"; the "tuned" row also against every other row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunesmith.config.tasks import task_spec
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


ROWS: Registry[ModelRow] = Registry("evaluation row")


def register_row(row: ModelRow) -> ModelRow:
    ROWS.register(row.name, row)
    return row


def rows_for(recipe: Recipe, run_dir: RunDir) -> list[ModelRow]:
    """The rows scored for this run, sorted by `order`."""
    rows = [ROWS.get(name) for name in ROWS.names()]
    return sorted((r for r in rows if r.applies(recipe, run_dir)), key=lambda r: r.order)


def row_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(a, b) comparisons, b minus a: base vs every row, every other row vs tuned."""
    pairs = [("base", n) for n in names if n != "base" and "base" in names]
    if "tuned" in names:
        pairs += [(n, "tuned") for n in names if n not in ("base", "tuned")]
    return pairs


def _few_shot_demos(recipe, run_dir):
    from tunesmith.evaluate.stage import few_shot_demos

    return few_shot_demos(recipe, run_dir)


def _tuned(recipe, run_dir, model):
    # The one call that loads the trained artefact (training variants own it).
    from tunesmith.evaluate.stage import with_adapter

    return with_adapter(model, run_dir)


register_row(
    ModelRow(
        "base",
        "base model (zero-shot)",
        0,
        applies=lambda recipe, run_dir: True,
        inputs=lambda recipe, run_dir: [],
        load=lambda recipe, run_dir, model: model,
    )
)
register_row(
    ModelRow(
        "few_shot",
        "base model (few-shot)",
        10,
        applies=lambda recipe, run_dir: (
            bool(recipe.evaluation.few_shot) and task_spec(recipe.task).few_shot
        ),
        inputs=lambda recipe, run_dir: [run_dir.data / "train.jsonl"],
        load=lambda recipe, run_dir, model: model,
        demos=_few_shot_demos,
    )
)
register_row(
    ModelRow(
        "tuned",
        "tuned model",
        100,
        applies=lambda recipe, run_dir: True,
        inputs=lambda recipe, run_dir: [run_dir.train / "adapter", run_dir.train / "model"],
        load=_tuned,
    )
)
