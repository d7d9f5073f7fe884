"""The classic baseline row: TF-IDF + logistic regression (scikit-learn) on the same split.

Why: it trains in about a second, and a report that shows it beside the tuned LLM answers
"was an LLM needed here?" honestly, including when the answer is no.
"""

from __future__ import annotations

import time


def classic_baseline(train: list[dict], test: list[dict], labels: list[str], seed: int = 0):
    """(per-example class probabilities over `labels`, seconds to fit and predict)."""
    import numpy as np

    from tunesmith.models.tfidf import fit_tfidf_classifier

    started = time.perf_counter()
    pipeline = fit_tfidf_classifier([_text(e) for e in train], [e["label"] for e in train], seed)
    fitted = list(pipeline.classes_)
    raw = pipeline.predict_proba([_text(e) for e in test])
    probs = np.zeros((len(test), len(labels)))
    for column, label in enumerate(fitted):
        if label in labels:  # a training label outside the allowed set gets no column
            probs[:, labels.index(label)] = raw[:, column]
    totals = probs.sum(axis=1, keepdims=True)
    probs = np.where(totals > 0, probs / np.clip(totals, 1e-12, None), 1.0 / len(labels))
    return probs.tolist(), time.perf_counter() - started


def _text(example: dict) -> str:
    return example.get("prompt", "")


def classic_rows(recipe, run_dir, examples: list[dict], labels: list[str]) -> list[dict]:
    """Prediction rows of the classic baseline, trained on this run's training split."""
    from tunesmith.artifacts import read_jsonl
    from tunesmith.evaluate.classify import probability_rows
    from tunesmith.evaluate.scoring import prediction_row
    from tunesmith.metrics.per_example import example_scores
    from tunesmith.models.formatting import reference

    train = [e for e in read_jsonl(run_dir.data / "train.jsonl") if "label" in e]
    probs, seconds = classic_baseline(train, examples, labels, recipe.training.seed)
    decided = probability_rows(examples, labels, probs, reference)
    names = recipe.metrics()
    scores = example_scores(
        names, [r["prediction"] for r in decided], [r["reference"] for r in decided], labels
    )
    rows = []
    for example, row, extra in zip(examples, decided, scores, strict=True):
        full = prediction_row(example)
        full.update(prediction=row["prediction"], probabilities=row["probabilities"])
        full["scores"].update(extra)
        full["seconds"] = round(seconds, 3)
        rows.append(full)
    return rows
