"""A split or a check that cannot fit the data is named before training, with its cause."""

from __future__ import annotations

import pytest
from conftest import make_records, write_jsonl

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.errors import UserError
from tunesmith.preflight import _data


def test_preflight_refuses_checks_asking_more_test_examples_than_the_split_plans(tiny_recipe):
    # 5 rows -> a test split of 1 passed validate; explain (k: 2) failed after training
    recipe = load_recipe(tiny_recipe(**{"data.split": {"validation": 1, "test": 1, "seed": 0}}))
    with pytest.raises(UserError) as caught:
        _data(recipe)
    assert str(caught.value) == "checks.explain.k: 2 examples asked, the test set has 1"


def test_preflight_passes_checks_that_fit(tiny_recipe):
    recipe = load_recipe(tiny_recipe(**{"data.split": {"validation": 1, "test": 2, "seed": 0}}))
    assert "checks: ok (test split of 2 fits)" in _data(recipe)


def test_a_split_that_curation_left_too_small_says_what_curation_removed(tiny_recipe, tmp_path):
    from tunesmith.data.stage import run

    path = tiny_recipe(
        **{
            "data.split": {"validation": 4, "test": 2, "seed": 0},
            "data.curation": {"dedup": {"near": False, "leakage": "off"}},
        }
    )
    rows = [{**make_records(1)[0], "package": f"p{i}"} for i in range(20)]  # one text, 20 times
    write_jsonl(tmp_path / "data.jsonl", rows)
    with pytest.raises(UserError) as caught:
        run(load_recipe(path), RunDir(tmp_path / "run"))
    assert str(caught.value) == (
        "data.split.validation: asks for 4 examples but only 1 is left after curation "
        "(dedup removed 19 of 20)"
    )
