"""Calibration metrics against scikit-learn / direct computations; the classic baseline."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.evaluate.classic import classic_baseline
from tunesmith.metrics.calibration import (
    best_threshold,
    probability_metrics,
    reliability_curve,
)

LABELS = ["a", "b", "c"]


def _fixed(n=200, seed=3):
    rng = np.random.default_rng(seed)
    truth_idx = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[truth_idx]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return [LABELS[i] for i in truth_idx], probs.tolist(), truth_idx, probs


def _ece_direct(y, p, bins=10):
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs((pred[inside] == y[inside]).mean() - conf[inside].mean())
    return total


def test_multiclass_auc_and_ece_match_references():
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth, probs, y, p = _fixed()
    got = probability_metrics(truth, probs, LABELS)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr"))
    expected_pr = np.mean([average_precision_score(y == k, p[:, k]) for k in range(3)])
    assert got["pr_auc"] == pytest.approx(expected_pr)
    assert got["ece"] == pytest.approx(_ece_direct(y, p), abs=1e-6)
    assert got["auc_classes"] == 3


def test_binary_auc_uses_the_positive_label():
    from sklearn.metrics import roc_auc_score

    truth = ["ham", "spam", "spam", "ham", "spam", "ham"]
    probs = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.1, 0.9], [0.4, 0.6]]
    got = probability_metrics(truth, probs, ["ham", "spam"], positive="spam")
    y = [t == "spam" for t in truth]
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, [q[1] for q in probs]))
    flipped = probability_metrics(truth, probs, ["ham", "spam"], positive="ham")
    assert flipped["roc_auc"] == pytest.approx(got["roc_auc"])  # symmetric for binary AUC


def test_reliability_curve_matches_sklearn():
    from sklearn.calibration import calibration_curve

    truth, probs, y, p = _fixed()
    curve = reliability_curve(truth, probs, LABELS)
    acc, conf = calibration_curve(p.argmax(1) == y, p.max(1), n_bins=10)
    assert curve["accuracy"] == pytest.approx(acc.tolist())
    assert curve["confidence"] == pytest.approx(conf.tolist())


def test_threshold_maximises_f1_on_given_data():
    from sklearn.metrics import f1_score

    truth, _, y, p = _fixed(seed=5)
    binary = ["pos" if t == "a" else "neg" for t in truth]
    scores = p[:, 0]
    cut, reached = best_threshold(binary, scores.tolist(), "pos")
    best = f1_score(y == 0, scores >= cut)
    assert reached == pytest.approx(best)
    # one class only: nothing to choose; F1 is undefined without a positive row
    assert best_threshold(["neg", "neg"], [0.2, 0.7], "pos") == (0.5, None)
    assert best_threshold(["pos", "pos"], [0.2, 0.7], "pos") == (0.5, pytest.approx(2 / 3))
    for other in np.linspace(0.05, 0.95, 19):
        assert best >= f1_score(y == 0, scores >= other) - 1e-12


def test_classic_baseline_learns_a_separable_task():
    words = ["kernel", "printer", "game"]
    train = [{"prompt": f"the {w} is here {i}", "label": w} for i in range(20) for w in words]
    test = [{"prompt": f"look: {w} now", "label": w} for w in words for _ in range(3)]
    probs, seconds = classic_baseline(train, test, words)
    predicted = [words[int(np.argmax(row))] for row in probs]
    assert predicted == [e["label"] for e in test]
    assert np.allclose(np.sum(probs, axis=1), 1.0)
    assert seconds < 60


def test_positive_label_defaults_to_the_rarer_class_and_threshold_needs_binary():
    from tunesmith.config.classification import ClassificationEval
    from tunesmith.errors import UserError
    from tunesmith.evaluate.classify import positive_label

    train = [{"label": "ham"}] * 5 + [{"label": "spam"}] * 2
    assert positive_label(ClassificationEval(), ["ham", "spam"], train) == "spam"
    chosen = ClassificationEval(positive_label="ham")
    assert positive_label(chosen, ["ham", "spam"], train) == "ham"
    assert positive_label(ClassificationEval(), LABELS, train) is None
    with pytest.raises(UserError, match="binary"):
        positive_label(ClassificationEval(threshold=True), LABELS, train)
    with pytest.raises(UserError, match="not a label"):
        positive_label(ClassificationEval(positive_label="eggs"), ["ham", "spam"], train)


def test_threshold_redecides_binary_rows():
    from tunesmith.evaluate.classify import apply_threshold, probability_rows

    examples = [{"id": str(i), "prompt": "p", "response": "ham"} for i in range(3)]
    rows = probability_rows(
        examples, ["ham", "spam"], [[0.9, 0.1], [0.7, 0.3], [0.4, 0.6]], lambda e: e["response"]
    )
    assert [r["prediction"] for r in rows] == ["ham", "ham", "spam"]
    lowered = apply_threshold(rows, "spam", 0.25)
    assert [r["prediction"] for r in lowered] == ["ham", "spam", "spam"]


def test_threshold_on_a_multiclass_task_is_refused_before_training(tmp_path, tiny_model_dir):
    import yaml

    from tests.conftest import write_jsonl
    from tunesmith.config import load_recipe
    from tunesmith.errors import UserError
    from tunesmith.preflight import preflight

    rows = [{"text": f"item {i} about {w}", "kind": w} for i in range(12) for w in LABELS]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = {
        "task": "classification",
        "model": str(tiny_model_dir),
        "data": {"train": str(data), "input_field": "text", "output_field": "kind"},
        "evaluation": {"classification": {"threshold": True}},
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    with pytest.raises(UserError, match="needs a binary task; this one has 3 labels"):
        preflight(load_recipe(path), tmp_path / "runs")
