"""Evaluation rows of a federated run: centralised training on the union, each client alone.

The federated (aggregated) adapter is the run's "tuned" row; these are scored on the same test
examples, so compare.json pairs each with "tuned" (paired intervals, p-values).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from tunesmith.evaluate.rows import ModelRow, register_row
from tunesmith.federated.partition import client_label
from tunesmith.models.base import apply_pretraining, base_inputs

BASELINES = Path("baselines")  # under train/: <name>/adapter
MAX_CLIENT_ROWS = 8  # more clients train and are averaged; only the first 8 get a row


def baseline_dir(run_dir, name: str) -> Path:
    return run_dir.train / BASELINES / name


def _applies(index: int | None, recipe, run_dir) -> bool:
    fed = recipe.federated
    return fed is not None and fed.baselines and (index is None or index < fed.clients)


def _inputs(name: str, recipe, run_dir) -> list[Path]:
    return [baseline_dir(run_dir, name) / "adapter", *base_inputs(recipe, run_dir)]


def _load(name: str, recipe, run_dir, model):
    from tunesmith.methods import load_tuned

    base = apply_pretraining(model, recipe, run_dir)
    return load_tuned(recipe.training, baseline_dir(run_dir, name), base)


def _register(name: str, label: str, order: int, index: int | None) -> None:
    register_row(
        ModelRow(
            name,
            label,
            order,
            partial(_applies, index),
            partial(_inputs, name),
            partial(_load, name),
        )
    )


_register("centralised", "centralised LoRA (union of the clients' data)", 80, None)
for _index in range(MAX_CLIENT_ROWS):
    _register(client_label(_index), f"client {_index + 1} alone", 81 + _index, _index)
