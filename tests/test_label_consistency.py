"""data.labels must match the data's labels: refused in validate and in the data stage, not
found by a scikit-learn traceback in evaluate after training."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from conftest import write_jsonl

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.data.label_checks import check_declared
from tunesmith.errors import UserError
from tunesmith.preflight import _data


def rows_labelled(values: list) -> list[dict]:
    return [{"text": f"review number {i} of thing {i % 7}", "y": v} for i, v in enumerate(values)]


def classification_recipe(tmp_path, labels, values, tiny_model_dir=None):
    data = write_jsonl(tmp_path / "data.jsonl", rows_labelled(values))
    recipe = {
        "name": "labels",
        "task": "classification",
        "model": {"name": str(tiny_model_dir or "HuggingFaceTB/SmolLM2-135M-Instruct")},
        "data": {
            "train": str(data),
            "input_field": "text",
            "output_field": "y",
            "labels": labels,
            "split": {"validation": 4, "test": 6, "seed": 0},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def test_data_labels_the_list_lacks_are_named_with_the_list_labels_never_seen():
    splits = {"train": [{"label": "0"}, {"label": "1"}], "test": [{"label": "1"}]}
    with pytest.raises(UserError) as caught:
        check_declared(["yes", "no"], splits)
    assert str(caught.value) == (
        "data.labels: the data has labels data.labels does not list: '1', '0'; "
        "data.labels lists labels the data never has: 'yes', 'no'"
    )


def test_a_case_difference_gets_a_did_you_mean():
    splits = {"train": [{"label": "true"}, {"label": "false"}]}
    with pytest.raises(UserError) as caught:
        check_declared(["True", "false"], splits)
    assert str(caught.value).endswith(
        "does not list: 'true'; data.labels lists labels the data never has: "
        "'True' (did you mean 'true'?)"
    )


def test_a_listed_label_the_data_lacks_is_only_a_warning():
    splits = {"train": [{"label": "a"}, {"label": "b"}]}
    assert check_declared(["a", "b", "c"], splits) == [
        "data.labels lists labels the data never has: 'c'"
    ]
    assert check_declared(["b", "a"], splits) == []
    assert check_declared(None, splits) == []


def test_preflight_refuses_labels_that_do_not_match_the_data(tmp_path):
    recipe = load_recipe(classification_recipe(tmp_path, ["yes", "no"], [0, 1] * 20))
    with pytest.raises(UserError, match="does not list: '0', '1'|does not list: '1', '0'"):
        _data(recipe)


def test_json_booleans_match_labels_written_true_false(tmp_path):
    # booleans read as "True"/"False" did not match labels: ["true", "false"]
    recipe = load_recipe(classification_recipe(tmp_path, ["true", "false"], [True, False] * 20))
    assert _data(recipe)[-1].startswith("evaluation.classification: ok (2 labels, positive")


def test_the_data_stage_refuses_them_too(tmp_path):
    from tunesmith.data.stage import run

    recipe = load_recipe(classification_recipe(tmp_path, ["yes", "no"], [0, 1] * 20))
    with pytest.raises(UserError, match="^data.labels: the data has labels"):
        run(recipe, RunDir(tmp_path / "run"))
    assert not (tmp_path / "run" / "data" / "train.jsonl").exists()


def test_validate_exits_2_with_one_line(tmp_path, tiny_model_dir):
    path = classification_recipe(tmp_path, ["yes", "no"], [0, 1] * 20, tiny_model_dir)
    done = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: data.labels: the data has labels"), done.stderr
