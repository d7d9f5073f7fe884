"""A saved `DatasetDict` given as data.train: its own validation and test splits are used
(not cut again from its train split), a data.test given in the recipe wins, and the data card
says where each split came from."""

from __future__ import annotations

import json

import pytest
from conftest import make_records, write_jsonl

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe


def save_dict(folder, **sizes):
    """A DatasetDict of make_records rows saved to `folder`, `sizes` rows per split (in order,
    distinct rows throughout)."""
    import datasets

    rows, start, splits = make_records(sum(sizes.values())), 0, {}
    for name, size in sizes.items():
        splits[name] = datasets.Dataset.from_list(rows[start : start + size])
        start += size
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return folder


def data_stage(recipe_path, run_folder):
    from tunesmith.data.stage import run

    run(load_recipe(recipe_path), RunDir(run_folder))
    return json.loads((run_folder / "data" / "data_card.json").read_text())


def test_a_saved_dataset_dicts_own_validation_and_test_splits_are_used(tmp_path, tiny_recipe):
    saved = save_dict(tmp_path / "dolly", train=40, validation=5, test=7)
    path = tiny_recipe(**{"data.train": str(saved)})
    recipe = load_recipe(path)
    assert (recipe.data.validation, recipe.data.test) == (
        str(saved / "validation"),
        str(saved / "test"),
    )
    card = data_stage(path, tmp_path / "run")
    # before: validation 8 and test 10 cut from the 40 training rows, the publisher's ignored
    assert card["sizes"] == {"train": 40, "val": 5, "test": 7}
    assert card["sources"] == {
        "train": f"{saved} (saved DatasetDict, its 'train' split)",
        "val": f"{saved} (saved DatasetDict, its 'validation' split)",
        "test": f"{saved} (saved DatasetDict, its 'test' split)",
    }
    test_rows = (tmp_path / "run" / "data" / "test.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in test_rows] == [f"test-{i}" for i in range(1, 8)]


def test_a_data_test_given_in_the_recipe_wins(tmp_path, tiny_recipe):
    saved = save_dict(tmp_path / "dolly", train=40, validation=5, test=7)
    given = write_jsonl(tmp_path / "mine.jsonl", make_records(9))
    path = tiny_recipe(**{"data.train": str(saved), "data.test": str(given)})
    card = data_stage(path, tmp_path / "run")
    assert card["sizes"] == {"train": 40, "val": 5, "test": 9}
    assert card["sources"]["test"] == str(given)
    assert card["sources"]["val"] == f"{saved} (saved DatasetDict, its 'validation' split)"


@pytest.mark.parametrize("held_out", ["dev", "valid"])
def test_a_split_the_dict_lacks_is_cut_from_train(tmp_path, tiny_recipe, held_out):
    saved = save_dict(tmp_path / "d", train=40, **{held_out: 6})
    card = data_stage(tiny_recipe(**{"data.train": str(saved)}), tmp_path / "run")
    # its dev split is the validation split; the test split is cut from train (10 of 40)
    assert card["sizes"] == {"train": 30, "val": 6, "test": 10}
    assert card["sources"]["val"] == f"{saved} (saved DatasetDict, its '{held_out}' split)"
    assert card["sources"]["test"] == "split from data.train (data.split.test: 10)"


def test_a_dict_without_a_train_split_trains_on_its_first_and_keeps_the_others(
    tmp_path, tiny_recipe
):
    saved = save_dict(tmp_path / "d", test=7, validation=5)
    recipe = load_recipe(tiny_recipe(**{"data.train": str(saved)}))
    # the first split is the training data: it is not also the test split
    assert (recipe.data.validation, recipe.data.test) == (str(saved / "validation"), None)
