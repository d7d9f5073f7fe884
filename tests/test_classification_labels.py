"""Labels as real data sets write them: the positive class of a binary task (YAML numbers and
booleans, ties, balanced training data) and the classes a test split does not measure."""

from __future__ import annotations

from tunesmith.data.label_checks import check_labels


def test_training_classes_without_a_test_example_are_named():
    train = [{"label": "a"}] * 5 + [{"label": "b"}] * 5 + [{"label": "rare"}]
    splits = {"train": train, "test": [{"label": "a"}, {"label": "b"}]}
    (warning,) = check_labels(splits, "t.jsonl")
    assert warning.startswith(
        "1 of 3 training classes have no test example (training rows: 'rare': 1)"
    )


def test_a_test_split_with_every_class_gets_no_warning():
    splits = {"train": [{"label": "a"}, {"label": "b"}], "test": [{"label": "b"}, {"label": "a"}]}
    assert check_labels(splits, "t.jsonl") == []
