"""Rows longer than max_seq_length: trained and scored on their answer, counted and reported."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import load_recipe
from tunesmith.models.formatting import IGNORE, Encoded
from tunesmith.pipeline import run_pipeline


@pytest.fixture(scope="module")
def long_run(tmp_path_factory, tiny_model_dir):
    """The audit's run: 300-word prompts and answers at max_seq_length 96."""
    from conftest import write_recipe

    folder = tmp_path_factory.mktemp("long")
    rows = [
        {"description": f"package {i} " + "word " * 300, "synopsis": f"tool {i} " + "answer " * 300}
        for i in range(30)
    ]
    path = write_recipe(
        folder,
        tiny_model_dir,
        rows,
        {"validation": 4, "test": 6},
        training={"epochs": 1, "batch_size": 4, "max_seq_length": 96, "eval_every": 2},
        evaluation={"generation": {"max_new_tokens": 4}},
    )
    run_dir = RunDir(folder / "out")
    # the checks stage is not what these tests are about, and costs most of the run
    stages = ["data", "train", "evaluate", "report"]
    run_pipeline(load_recipe(path), run_dir, only=stages)
    return run_dir


def test_long_rows_train_on_their_answers_and_the_cut_is_counted(long_run):
    summary = json.loads((long_run.train / "summary.json").read_text())
    assert summary["truncation"] == {
        "rows": 20,
        "cut": 20,
        "prompt_cut": 20,
        "answer_cut": 20,
        "max_seq_length": 96,
        "dropped_unsupervised": 0,
    }
    assert summary["best_val_ppl"] > 2  # over 48 answer tokens a row, not 1 over none
    losses = [r["loss"] for r in read_jsonl(long_run.train / "metrics.jsonl") if "loss" in r]
    assert losses and min(losses) > 0.1  # the audit saw 0.000 at every step


def test_evaluation_scores_answer_tokens_and_counts_cut_prompts(long_run):
    compare = json.loads((long_run.eval / "compare.json").read_text())
    for name in ("base", "tuned"):
        assert compare["truncation"][name] == {
            "prompt": 6,
            "scored_prompt": 6,
            "scored_answer": 6,
            "rows": 6,
        }
        assert compare["rows"][name]["metrics"]["perplexity"]["value"] > 2


def test_the_report_says_how_many_rows_were_cut(long_run):
    html = (long_run.root / "report" / "report.html").read_text()
    assert "Cut to max_seq_length 96: 20 of 20 training rows (100 %)" in html
    assert "Examples cut to max_seq_length:" in html


def test_perplexity_over_no_token_is_an_error_not_one(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from tunesmith.models.nll import perplexity

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(ValueError, match="no supervised tokens"):
        perplexity(model, [Encoded([5, 6, 7], [IGNORE] * 3)], 2, 0)


def test_corpus_perplexity_of_no_scored_token_is_nan():
    from tunesmith.stats import STATISTICS

    stat = STATISTICS.get("perplexity")
    cols = {"nll": np.array([0.0, 2.0]), "tokens": np.array([0, 1])}
    values = stat.compute(cols, np.array([[0, 0], [0, 1]]))
    assert math.isnan(values[0]) and values[1] == pytest.approx(math.exp(2.0))


def test_evaluation_with_no_scored_token_is_an_error():
    from tunesmith.errors import UserError
    from tunesmith.evaluate.scoring import _require_scored_tokens

    with pytest.raises(UserError, match="perplexity is undefined"):
        _require_scored_tokens([{"scores": {"tokens": 0}}, {"scores": {"tokens": 0}}], 96)
    _require_scored_tokens([{"scores": {"tokens": 0}}, {"scores": {"tokens": 3}}], 96)


def test_training_drops_and_counts_rows_with_nothing_to_learn():
    from tunesmith.train.stage import _supervised_only

    items = [Encoded([1, 2], [IGNORE, 2]), Encoded([1, 2], [IGNORE, IGNORE])]
    rows, kept, dropped = _supervised_only(["a", "b"], items)
    assert rows == ["a"] and kept == items[:1] and dropped == 1


def test_no_validation_row_with_early_stopping_on_is_said_once():
    """data.split.validation: 0 trained silently without early stopping (best_val_ppl null)."""
    from tunesmith.config.training import LoraTraining
    from tunesmith.train.stage import no_validation_warning

    on = LoraTraining()
    off = LoraTraining(early_stopping={"enabled": False})
    assert "no validation rows" in no_validation_warning(on, [])
    assert no_validation_warning(on, [object()]) is None
    assert no_validation_warning(off, []) is None


def _long_classification_examples(n: int) -> list[dict]:
    labels = ["devel", "utils"] * n
    return [
        {"id": f"c{i}", "prompt": f"package {i} " + "word " * 300, "response": labels[i]}
        for i in range(n)
    ]


def test_label_likelihood_scoring_marks_and_counts_cut_prompts(tiny_model_dir, capsys):
    """Classification by label likelihood cut its prompts to leave room for the labels
    without a word: compare.json's `truncation` and the console said nothing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.config.schema import Recipe
    from tunesmith.evaluate.calibrate import _say_cuts
    from tunesmith.evaluate.classify import label_predictions
    from tunesmith.evaluate.scoring import score_model
    from tunesmith.evaluate.stage import _cuts

    recipe = Recipe.model_validate(
        {
            "name": "t",
            "task": "classification",
            "model": {"name": str(tiny_model_dir), "precision": "fp32"},
            "data": {"train": "train.jsonl", "input_field": "x", "output_field": "y"},
            "training": {"max_seq_length": 48},
            "evaluation": {"metrics": ["accuracy"]},
        }
    )
    assert recipe.evaluation.classification.scoring == "likelihood"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = _long_classification_examples(3) + [
        {"id": "short", "prompt": "a b", "response": "devel"}
    ]
    labels = ["devel", "utils"]
    rows = score_model(model, tokenizer, examples, recipe, True, labels, None, stop=())
    assert [row.get("cut") for row in rows] == [["prompt"]] * 3 + [None]
    assert _cuts({"base": rows}, 48) == {"base": {"prompt": 3, "rows": 3}}
    assert "evaluation (base): 3 of 4 examples longer than max_seq_length 48" in (
        " ".join(capsys.readouterr().err.split())
    )
    # the binary threshold is chosen on validation rows scored the same way
    settings = recipe.evaluation.classification
    _say_cuts(label_predictions(model, tokenizer, examples, labels, 48, settings), 48)
    said = " ".join(capsys.readouterr().err.split())
    assert "(tuned threshold, validation rows): 3 of 4 examples longer than" in said
