"""data.label_map: raw labels become words the model can read (0/1 -> negative/positive), or
one class written two ways is merged, as records are read."""

from __future__ import annotations

import pytest

from tunesmith.config.loader import load_recipe, recipe_from_dict
from tunesmith.data.examples import to_examples
from tunesmith.data.label_checks import label_warnings
from tunesmith.errors import UserError
from tunesmith.evaluate.refine import next_iteration


def recipe(task: str = "classification", **data):
    return recipe_from_dict(
        {
            "task": task,
            "data": {"train": "/t.jsonl", "input_field": "text", "output_field": "y", **data},
        }
    )


def labels(r, *values) -> list[str]:
    records = [{"text": f"t{i}", "y": v, "_line": i + 1} for i, v in enumerate(values)]
    return [e["label"] for e in to_examples(r, "t", records, "train")]


def test_numbers_become_the_words_they_stand_for_and_unnamed_labels_stay(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "task: classification\n"
        "data:\n  train: t.jsonl\n  input_field: text\n  output_field: y\n"
        "  label_map: {0: negative, 1: positive}\n"
    )
    r = load_recipe(path)
    assert r.data.label_map == {"0": "negative", "1": "positive"}
    # JSON 1, 1.0 and the text "1" are one label, as without a map; 2 is not named: kept
    assert labels(r, 0, 1, 1.0, "1", " 0 ", 2) == [
        "negative",
        "positive",
        "positive",
        "positive",
        "negative",
        "2",
    ]
    example = to_examples(r, "t", [{"text": "a", "y": 1, "_line": 1}], "train")[0]
    assert example["response"] == "positive"  # what the model learns to answer


def test_a_class_written_two_ways_is_merged_and_booleans_map_by_json_spelling():
    r = recipe(label_map={"GAMES": "games", True: "yes", False: "no"})
    assert labels(r, "GAMES", "games", True, False, "web") == ["games", "games", "yes", "no", "web"]


def test_a_map_on_a_task_without_classes_or_to_a_blank_label_is_refused():
    with pytest.raises(UserError, match="data.label_map names classes; task 'summarization'"):
        recipe("summarization", label_map={"a": "b"})
    with pytest.raises(UserError, match="label '1' maps to a blank label"):
        recipe(label_map={1: "  "})


def test_a_key_no_record_has_is_a_warning_with_a_did_you_mean():
    r = recipe(label_map={"Positve": "positive", "neg": "negative"})
    splits = {"train": [{"label": "negative"}, {"label": "Positive"}], "test": []}
    assert "data.label_map: no record has the label 'Positve'" in " ".join(
        label_warnings(r.data, splits)
    )
    assert not [w for w in label_warnings(r.data, splits) if "'neg'" in w]


def test_the_case_twins_warning_names_the_key_that_merges_them():
    r = recipe()
    splits = {"train": [{"label": "games"}, {"label": "GAMES"}], "test": [{"label": "games"}]}
    assert any("data.label_map merges them" in w for w in label_warnings(r.data, splits))


def test_refine_writes_mapped_records_so_the_next_recipe_maps_nothing(tmp_path):
    raw = {"task": "classification", "data": {"train": "t.jsonl", "label_map": {"1": "0"}}}
    assert next_iteration(raw, tmp_path / "run", tmp_path / "out")["data"]["label_map"] is None


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"data": {"labels": [0, 1]}}, "data.labels names '0'"),
        (
            {"evaluation": {"classification": {"positive_label": 1}}},
            "evaluation.classification.positive_label names '1'",
        ),
    ],
    ids=["labels", "positive_label"],
)
def test_labels_and_the_positive_class_name_the_mapped_labels(extra, key):
    raw = {
        "task": "classification",
        "data": {
            "train": "/t.jsonl",
            "input_field": "text",
            "output_field": "y",
            "label_map": {0: "negative", 1: "positive"},
            **extra.get("data", {}),
        },
        **{k: v for k, v in extra.items() if k != "data"},
    }
    with pytest.raises(UserError, match=f"{key}, which data.label_map renames to"):
        recipe_from_dict(raw)
    raw["data"]["labels"] = ["negative", "positive"]
    raw.get("evaluation", {}).get("classification", {}).update(positive_label="positive")
    assert recipe_from_dict(raw).data.label_map == {"0": "negative", "1": "positive"}
