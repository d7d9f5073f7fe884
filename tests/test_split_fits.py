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


def emptied_val_recipe(tiny_recipe, tmp_path, early_stopping: bool):
    path = tiny_recipe(
        **{
            "data.curation": {"dedup": {"near": False}},
            "training.early_stopping": {"enabled": early_stopping},
        }
    )
    write_jsonl(tmp_path / "val.jsonl", make_records(60)[:6])  # drawn from train: all leak
    write_jsonl(tmp_path / "test.jsonl", make_records(70)[60:])  # rows train does not have
    given = f"  validation: {tmp_path / 'val.jsonl'}\n  test: {tmp_path / 'test.jsonl'}\n"
    text = path.read_text().replace("data:\n", "data:\n" + given)
    path.write_text(text)
    return load_recipe(path)


def test_an_emptied_validation_split_is_an_error_when_early_stopping_needs_it(
    tiny_recipe, tmp_path
):
    from tunesmith.data.stage import run

    recipe = emptied_val_recipe(tiny_recipe, tmp_path, early_stopping=True)
    with pytest.raises(UserError) as caught:
        run(recipe, RunDir(tmp_path / "run"))
    assert str(caught.value).startswith(
        "data.curation: leakage dropped all 6 validation rows; training.early_stopping needs them"
    )


def test_an_emptied_validation_split_is_a_warning_in_the_card_otherwise(tiny_recipe, tmp_path):
    import json

    from tunesmith.data.stage import run

    recipe = emptied_val_recipe(tiny_recipe, tmp_path, early_stopping=False)
    assert run(recipe, RunDir(tmp_path / "run")).sizes["val"] == 0
    card = json.loads((tmp_path / "run" / "data" / "data_card.json").read_text())
    assert card["warnings"] == [
        "data.curation: leakage dropped all 6 validation rows: training runs without "
        "validation perplexity"
    ]


def test_turning_early_stopping_back_on_re_runs_the_data_stage(tiny_recipe, tmp_path):
    from tunesmith.data.stage import _config

    on = emptied_val_recipe(tiny_recipe, tmp_path, early_stopping=True)
    off = emptied_val_recipe(tiny_recipe, tmp_path, early_stopping=False)
    assert _config(on) != _config(off)
    assert len(_config(on)) == 5  # the default keeps its hash (and the demo its data)


def test_checks_that_no_longer_fit_the_curated_test_split_are_refused_before_training(
    tiny_recipe, tmp_path
):
    # validate saw 3 test rows (explain k: 2 fits); the leakage check drops the 2 copied from
    # train, and the checks stage would have failed after training
    from tunesmith.data.stage import run

    path = tiny_recipe(**{"data.curation": {"dedup": {"near": False}}})
    train = make_records(60)
    write_jsonl(tmp_path / "test.jsonl", train[:2] + make_records(61)[60:])
    path.write_text(path.read_text().replace("data:\n", f"data:\n  test: {tmp_path}/test.jsonl\n"))
    recipe = load_recipe(path)
    assert "checks: ok (test split of 3 fits)" in _data(recipe)
    with pytest.raises(UserError) as caught:
        run(recipe, RunDir(tmp_path / "run"))
    assert str(caught.value) == (
        "checks.explain.k: 2 examples asked, the test set has 1 after curation (the test split "
        "had 3 rows before curation, 1 after)"
    )
    assert not (tmp_path / "run" / "data" / "train.jsonl").exists()  # nothing half-written


def test_a_share_of_the_file_is_the_size_before_curation(tiny_recipe, tmp_path):
    from tunesmith.data.stage import run

    path = tiny_recipe(
        **{
            "data.split": {"validation": 0.1, "test": 0.1, "seed": 0},
            "data.curation": {"dedup": {"near": False, "leakage": "off"}},
            "checks.explain": {"k": 3},
        }
    )
    rows = make_records(20)  # every row twice: dedup halves the 40, and the test share with it
    write_jsonl(tmp_path / "data.jsonl", rows + [{**r, "package": "again"} for r in rows])
    recipe = load_recipe(path)
    assert "checks: ok (test split of 4 fits)" in _data(recipe)
    with pytest.raises(UserError) as caught:
        run(recipe, RunDir(tmp_path / "run"))
    assert str(caught.value) == (
        "checks.explain.k: 3 examples asked, the test set has 2 after curation (the test split "
        "had 4 rows before curation, 2 after)"
    )
