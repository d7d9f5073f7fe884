"""A classification run end to end: label-likelihood rows, classic baseline, probabilities,
and the validation threshold, checked against scikit-learn on the saved predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def classified(tmp_path_factory, tiny_model_dir):
    from tests.conftest import make_records, write_recipe
    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.pipeline import run_pipeline

    folder = tmp_path_factory.mktemp("classify")
    path = write_recipe(
        folder,
        tiny_model_dir,
        make_records(72),
        {"validation": 12, "test": 24, "seed": 0},
        name="tiny-classify",
        task="classification",
        **{"data.output_field": "section"},
        training={
            "max_steps": 4,
            "batch_size": 4,
            "learning_rate": 5e-3,
            "eval_every": 2,
            "max_seq_length": 96,
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        },
        evaluation={"few_shot": 1},
    )
    run_dir = RunDir(folder / "run")
    run_pipeline(load_recipe(path), run_dir)
    return run_dir


def _rows(run_dir, name):
    path = run_dir.eval / "predictions" / f"test.{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_row_is_scored_by_label_likelihood(classified):
    metrics = json.loads((classified.eval / "metrics.json").read_text())
    assert {"base", "few_shot", "classic", "tuned", "tuned_threshold"} <= set(metrics)
    for name in ("base", "few_shot", "tuned", "classic"):
        rows = _rows(classified, name)
        assert all(r["prediction"] in ("devel", "utils") for r in rows)  # never free text
        assert all(sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-4) for r in rows)
        accuracy = np.mean([r["prediction"] == r["reference"] for r in rows])
        assert metrics[name]["accuracy"] == pytest.approx(accuracy)
    assert "perplexity" not in metrics["classic"] and "perplexity" in metrics["base"]


def test_auc_and_ece_match_sklearn_recomputed_from_saved_probabilities(classified):
    from sklearn.metrics import roc_auc_score

    compare = json.loads((classified.eval / "compare.json").read_text())
    positive = compare["positive_label"]
    assert positive == "utils"  # the rarer class of the synthetic data (1 in 3)
    for name in ("base", "tuned", "classic"):
        rows = _rows(classified, name)
        y = [r["reference"] == positive for r in rows]
        p = [r["probabilities"][positive] for r in rows]
        got = compare["probabilities"][name]
        assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-5)
        conf = np.array([max(r["probabilities"].values()) for r in rows])
        correct = np.array([r["prediction"] == r["reference"] for r in rows])
        assert got["ece"] == pytest.approx(_ece(conf, correct), abs=1e-6)


def _ece(conf, correct, bins=10):
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total


def test_threshold_comes_from_validation_and_redecides_tuned(classified):
    tuned, cut_rows = _rows(classified, "tuned"), _rows(classified, "tuned_threshold")
    cut = cut_rows[0]["scores"]["threshold"]
    for plain, decided in zip(tuned, cut_rows):
        expected = "utils" if plain["probabilities"]["utils"] >= cut else "devel"
        assert decided["prediction"] == expected


def _threshold(run_dir) -> dict:
    compare = json.loads((run_dir.eval / "compare.json").read_text())
    return compare["thresholds"]["tuned_threshold"]


def test_the_threshold_record_names_its_validation_rows_and_the_f1_reached(classified):
    """compare.json records how the threshold was chosen: on which validation rows, the value,
    and the positive class's F1 there (recomputed from the tuned model's validation scores)."""
    from sklearn.metrics import f1_score

    from tunesmith.config import load_recipe
    from tunesmith.evaluate.classify import label_predictions
    from tunesmith.evaluate.rows import ROWS
    from tunesmith.models.base import load_base

    record = _threshold(classified)
    val = [json.loads(line) for line in (classified.data / "val.jsonl").read_text().splitlines()]
    assert record["row"] == "tuned" and record["positive_label"] == "utils"
    assert record["threshold"] == _rows(classified, "tuned_threshold")[0]["scores"]["threshold"]
    chosen = record["validation"]
    assert chosen["rows"] == chosen["available"] == len(val) == 12
    assert chosen["ids"] == [e["id"] for e in val]
    assert chosen["truncation"] == {}  # max_seq_length 96 fits every prompt
    recipe = load_recipe(classified.root / "recipe.yaml")
    model, tokenizer = load_base(recipe)
    model = ROWS.get("tuned").load(recipe, classified, model)
    settings = recipe.evaluation.classification
    scored = label_predictions(model, tokenizer, val, ["devel", "utils"], 96, settings)
    p = np.array([r["probabilities"]["utils"] for r in scored])
    y = np.array([e["label"] == "utils" for e in val])
    assert chosen["f1"] == pytest.approx(f1_score(y, p >= record["threshold"]))
    assert chosen["positives"] == int(y.sum())


def test_report_shows_how_the_threshold_was_chosen(classified):
    record = _threshold(classified)
    page = (classified.report / "report.html").read_text()
    section = page.split("Decision threshold (chosen on validation rows, never test)")[1]
    section = section.split("</table>")[0]
    assert f"{record['threshold']:.4f}" in section
    assert f"{record['validation']['f1']:.4f}" in section
    assert (
        f"12 of 12 in data/val.jsonl (the first training.val_max_examples), "
        f"{record['validation']['positives']} positive" in section
    )
    assert ", ".join(record["validation"]["ids"]) in section


def test_report_shows_probabilities_and_the_classic_row(classified):
    page = (classified.report / "report.html").read_text()
    assert "Classification probabilities and calibration" in page
    assert "TF-IDF + logistic regression" in page
    assert "<svg" in page.split("Classification probabilities")[1]
