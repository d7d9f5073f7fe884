"""Metrics equal their reference implementations."""

from __future__ import annotations

import sacrebleu
from rouge_score import rouge_scorer
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from tunesmith.metrics import METRICS, compute_metrics

PREDS = ["a python editor", "fast audio player for linux", "", "Image viewer"]
REFS = ["python text editor", "audio player", "network server", "image viewer tool"]


def test_rouge_matches_rouge_score():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    got = compute_metrics(["rouge"], PREDS, REFS)
    for key in ("rouge1", "rouge2", "rougeL"):
        expected = sum(scorer.score(r, p)[key].fmeasure for p, r in zip(PREDS, REFS)) / len(PREDS)
        assert abs(got[key] - expected) < 1e-12
    assert 0 < got["rougeL"] < 1


def test_bleu_matches_sacrebleu():
    got = compute_metrics(["bleu"], PREDS, REFS)["bleu"]
    assert got == sacrebleu.corpus_bleu(PREDS, [REFS]).score


def test_classification_matches_sklearn():
    labels = ["devel", "utils", "games"]
    truth = ["devel", "utils", "games", "devel", "utils"]
    generated = ["Devel", "devel\nextra", "games", "devel", "something else"]
    got = compute_metrics(
        ["accuracy", "precision", "recall", "f1"], generated, truth, labels=labels
    )
    normalized = ["devel", "devel", "games", "devel", "something else"]
    assert got["accuracy"] == accuracy_score(truth, normalized) == 0.6
    p, r, f, _ = precision_recall_fscore_support(
        truth, normalized, labels=sorted(labels), average="macro", zero_division=0
    )
    assert (got["precision"], got["recall"], got["f1"]) == (p, r, f)


def test_every_registered_metric_returns_numbers():
    for name in METRICS.names():
        values = METRICS.get(name)(PREDS, REFS, labels=None)
        assert values and all(isinstance(v, float) for v in values.values()), name
