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
