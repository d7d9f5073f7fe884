"""Labels as real data sets write them: the positive class of a binary task (YAML numbers and
booleans, ties, balanced training data) and the classes a test split does not measure."""

from __future__ import annotations

import json

import pytest

from tunesmith.config.classification import ClassificationEval
from tunesmith.data.label_checks import check_labels
from tunesmith.evaluate.classify import positive_label


@pytest.mark.parametrize(("written", "spelled"), [(1, "1"), (1.0, "1"), (True, "true")])
def test_positive_label_is_read_as_the_data_spells_labels(written, spelled):
    # YAML `positive_label: 1` was refused ("Input should be a valid string")
    settings = ClassificationEval(positive_label=written)
    assert positive_label(settings, ["0", "1"] if spelled == "1" else ["false", "true"], []) == (
        spelled
    )


def test_positive_label_drops_surrounding_whitespace_as_data_labels_do():
    assert ClassificationEval(positive_label=" spam ").positive_label == "spam"


@pytest.mark.parametrize(
    "labels", [["0", "1"], ["false", "true"], ["negative", "positive"], ["No", "Yes"]]
)
def test_equally_frequent_classes_make_the_positive_named_one_positive(labels):
    train = [{"label": label} for label in labels * 5]
    assert positive_label(ClassificationEval(), labels, train) == labels[1]


def test_oversampled_copies_do_not_hide_the_rarer_class():
    train = [{"label": "major"}] * 9 + [{"label": "minor"}]
    train += [{"label": "minor", "oversampled": True}] * 8
    assert positive_label(ClassificationEval(), ["major", "minor"], train) == "minor"


def test_counts_before_undersampling_decide_the_positive_class():
    train = [{"label": "major"}, {"label": "minor"}]  # what undersampling leaves
    before = {"major": 57, "minor": 3}
    assert positive_label(ClassificationEval(), ["major", "minor"], train, before) == "minor"


def test_the_run_reads_the_counts_before_balancing_from_the_data_card(tmp_path):
    from tunesmith.artifacts import RunDir
    from tunesmith.config.schema import Recipe
    from tunesmith.evaluate.calibrate import _positive

    run_dir = RunDir(tmp_path / "run")
    run_dir.data.mkdir(parents=True)
    rows = [{"id": str(i), "label": label} for i, label in enumerate(["major", "minor"] * 3)]
    (run_dir.data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    card = {"label_distribution": {"before": {"major": 57, "minor": 3}}}
    (run_dir.data / "data_card.json").write_text(json.dumps(card))
    recipe = Recipe.model_validate(
        {
            "task": "classification",
            "model": {"name": "m"},
            "data": {"train": "d.jsonl", "input_field": "t", "output_field": "y"},
        }
    )
    assert _positive(recipe, run_dir, ["major", "minor"]) == "minor"
    # a declared input: a data card that changes re-runs the evaluation
    from tunesmith.evaluate.stage import stage_inputs

    assert run_dir.data / "data_card.json" in stage_inputs(recipe, run_dir)


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


def _record(labels: list[str]) -> dict:
    from tunesmith.evaluate.calibrate import threshold_record

    val = [{"id": str(i), "label": label} for i, label in enumerate(labels)]
    return threshold_record("tuned", "minor", 0.00001, 0.18, val, len(val), {})


def test_a_threshold_from_one_positive_validation_row_is_said(capsys):
    from tunesmith.evaluate.calibrate import _say_few_positives

    record = _record(["major"] * 19 + ["minor"])
    assert record["validation"]["positives"] == 1
    _say_few_positives(record)
    said = " ".join(capsys.readouterr().err.split())
    assert "1 of the 20 validation rows are 'minor'" in said


def test_enough_positive_validation_rows_are_not_warned_about(capsys):
    from tunesmith.evaluate.calibrate import _say_few_positives

    _say_few_positives(_record(["major"] * 15 + ["minor"] * 5))
    assert capsys.readouterr().err == ""


def test_a_positive_label_in_the_wrong_case_gets_a_did_you_mean():
    from tunesmith.errors import UserError

    with pytest.raises(UserError) as caught:
        positive_label(ClassificationEval(positive_label="Spam"), ["ham", "spam"], [])
    assert str(caught.value).endswith("is not a label (ham, spam) (did you mean 'spam'?)")


def test_labels_differing_in_unicode_form_or_spacing_are_named():
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    train = [{"label": composed}, {"label": decomposed}, {"label": "very good"}]
    train += [{"label": "very  good"}]
    (warning,) = check_labels({"train": train, "test": []}, "t.jsonl")
    assert warning == (
        "labels that differ only in letter case, spacing or Unicode form are separate classes: "
        f"'{decomposed}' ('cafe\\u0301') / '{composed}'; 'very  good' / 'very good' "
        '(data.label_map merges them: {"caf\\u00e9": "cafe\\u0301"})'
    )


def test_a_threshold_with_generated_answers_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="threshold: true needs scoring: likelihood"):
        ClassificationEval(threshold=True, scoring="generate")
    assert ClassificationEval(scoring="generate").threshold is None  # the default stays off


def test_a_positive_label_on_a_multi_class_task_is_refused():
    from tunesmith.errors import UserError

    settings = ClassificationEval(positive_label="spam")
    with pytest.raises(UserError) as caught:
        positive_label(settings, ["eggs", "ham", "spam"], [])
    assert str(caught.value) == (
        "evaluation.classification.positive_label: a positive class needs a binary task; this "
        "one has 3 labels"
    )


def test_the_classic_baseline_fits_texts_without_words():
    # emoji or single characters: scikit-learn's word vocabulary was empty and evaluate failed
    # with "empty vocabulary" after training
    from tunesmith.evaluate.classic import classic_baseline

    rows = [{"prompt": "😀 😀", "label": "pos"}, {"prompt": "😡", "label": "neg"}] * 3
    probs, _ = classic_baseline(rows, rows, ["neg", "pos"])
    assert [p.index(max(p)) for p in probs] == [1, 0] * 3


@pytest.mark.parametrize(
    ("generated", "label"),
    [
        ("Positive.", "positive"),
        ('"negative"', "negative"),
        ("**Positive**", "positive"),
        ("(1)", "1"),
        ("net.", "net"),
    ],
)
def test_a_generated_answer_wrapped_in_punctuation_names_its_label(generated, label):
    from tunesmith.metrics.classification import normalize_label

    assert normalize_label(generated, ["positive", "negative", "1", "net", "net-misc"]) == label


def test_a_wrapped_answer_that_fits_two_labels_stays_no_label():
    from tunesmith.metrics.classification import normalize_label

    assert normalize_label("a", ["a.", "a!"]) == "a"  # neither: ambiguous, not a guess
    assert normalize_label("a.", ["a", "a."]) == "a."  # the exact label wins
