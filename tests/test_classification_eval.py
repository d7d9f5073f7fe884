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


def test_report_shows_probabilities_and_the_classic_row(classified):
    page = (classified.report / "report.html").read_text()
    assert "Classification probabilities and calibration" in page
    assert "TF-IDF + logistic regression" in page
    assert "<svg" in page.split("Classification probabilities")[1]
