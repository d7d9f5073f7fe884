"""Every JSON file tunesmith writes is standard JSON: no NaN / Infinity tokens."""

from __future__ import annotations

import json

import pytest


def _strict_load(text: str):
    """json.loads that refuses NaN / Infinity, as jq and JavaScript's JSON.parse do."""

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_write_json_writes_non_finite_floats_as_null(tmp_path):
    from tunesmith.artifacts import write_json

    path = tmp_path / "run.json"
    write_json(path, {"a": float("nan"), "b": [float("inf")], "c": (1.5, -float("inf"))})
    assert _strict_load(path.read_text()) == {"a": None, "b": [None], "c": [1.5, None]}


def test_write_jsonl_writes_non_finite_floats_as_null(tmp_path):
    from tunesmith.artifacts import write_jsonl

    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [{"loss": float("nan")}, {"loss": 2.0}])
    rows = [_strict_load(line) for line in path.read_text().splitlines()]
    assert rows == [{"loss": None}, {"loss": 2.0}]


def test_merge_check_of_different_modules_has_no_infinite_error():
    """Different module sets have no measurable error: None, and the merge is not verified
    (it was float('inf'), which write_json wrote as the non-JSON token Infinity)."""
    import torch

    from tunesmith.ensemble.merge_check import relative_error

    result = relative_error({"a": torch.ones(2, 2)}, {"b": torch.ones(2, 2)})
    assert result["error"] is None
    assert "modules differ" in result["worst_module"]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_strict_json_nulls_each_non_finite_value(value):
    from tunesmith.artifacts.files import strict_json

    assert _strict_load(strict_json({"x": [value, 1.0]})) == {"x": [None, 1.0]}


def test_a_diverged_training_ends_its_run_with_standard_json_files(tiny_recipe, tmp_path):
    """A full fine-tune at an absurd learning rate makes every loss NaN. Its metrics log held
    NaN tokens, the report stage failed with a traceback on the null attributions the checks
    wrote, and so did the headline table on the null perplexity. The run now finishes (exit 0)
    and every run file parses as standard JSON."""
    from test_cli import tunesmith

    training = {"epochs": 1, "batch_size": 4, "max_seq_length": 96, "eval_every": 3}
    recipe = tiny_recipe(training={**training, "method": "full", "learning_rate": 1e30})
    done = tunesmith("run", recipe, "--output", tmp_path / "run")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "– [–, –]" in done.stdout  # the tuned perplexity that could not be computed
    log = (tmp_path / "run" / "train" / "metrics.jsonl").read_text(encoding="utf-8")
    assert any(row.get("val_ppl", 1) is None for row in map(_strict_load, log.splitlines()))
    for path in (tmp_path / "run").rglob("*.json"):
        _strict_load(path.read_text(encoding="utf-8"))
    for path in (tmp_path / "run").rglob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            _strict_load(line)
