"""The evaluation-row registry: which rows a run scores, their order, and the pairs compared."""

from __future__ import annotations

import pytest

from tunesmith.artifacts import RunDir
from tunesmith.config.loader import recipe_from_dict
from tunesmith.evaluate.rows import ROWS, ModelRow, register_row, row_pairs, rows_for
from tunesmith.evaluate.stage import stage_inputs


def recipe(task="summarization", **evaluation):
    data = {"train": "x.jsonl", "input_field": "a", "output_field": "b"}
    if task == "chat":
        data = {"train": "x.jsonl"}
    return recipe_from_dict({"task": task, "data": data, "evaluation": evaluation})


@pytest.fixture
def pretrained_row():
    row = ModelRow(
        "extra",
        "another model row (registered by the test)",
        50,
        applies=lambda r, rd: True,
        inputs=lambda r, rd: [rd.root / "pretrain" / "adapter"],
        load=lambda r, rd, model: model,
    )
    register_row(row)
    yield row
    del ROWS._items["extra"]


def test_default_rows_and_few_shot_only_where_the_task_allows(tmp_path):
    run_dir = RunDir(tmp_path)
    assert [r.name for r in rows_for(recipe(), run_dir)] == ["base", "few_shot", "tuned"]
    assert [r.name for r in rows_for(recipe(few_shot=0), run_dir)] == ["base", "tuned"]
    assert [r.name for r in rows_for(recipe("chat"), run_dir)] == ["base", "tuned"]


def test_a_registered_row_joins_in_order_and_declares_its_inputs(tmp_path, pretrained_row):
    run_dir = RunDir(tmp_path)
    names = [r.name for r in rows_for(recipe(), run_dir)]
    assert names == ["base", "few_shot", "extra", "tuned"]
    assert row_pairs(names) == [
        ("base", "few_shot"),
        ("base", "extra"),
        ("base", "tuned"),
        ("few_shot", "tuned"),
        ("extra", "tuned"),
    ]
    inputs = stage_inputs(recipe(), run_dir)
    assert tmp_path / "pretrain" / "adapter" in inputs
    assert tmp_path / "data" / "train.jsonl" in inputs


def test_task_specs_and_statistics_cover_the_schema_names():
    from typing import get_args

    from tunesmith.config.schema import METRIC_NAMES, Task
    from tunesmith.config.tasks import METRIC_KEYS, TASKS, metric_keys
    from tunesmith.stats import STATISTICS

    assert TASKS.names() == sorted(get_args(Task))
    assert sorted(METRIC_KEYS) == sorted(METRIC_NAMES)
    assert sorted(metric_keys(list(METRIC_NAMES))) == STATISTICS.names()
    for name in TASKS.names():
        spec = TASKS.get(name)
        assert spec.headline in metric_keys(list(spec.metrics))
