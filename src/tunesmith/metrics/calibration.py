"""Probability quality of a classifier: ROC-AUC, PR-AUC, expected calibration error, the
reliability diagram, and a binary decision threshold chosen on validation data.

scikit-learn computes the curves and areas, torchmetrics the calibration error (top-label,
equal-width bins, L1: Guo et al. 2017); this module only shapes their inputs.
"""

from __future__ import annotations

ECE_BINS = 10


def _arrays(truth: list[str], probs: list[list[float]], labels: list[str]):
    import numpy as np

    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index.get(t, -1) for t in truth])
    p = np.asarray(probs, dtype=np.float64)
    known = y >= 0  # a test label the model was never offered cannot be scored as a class
    return y[known], p[known]


def probability_metrics(
    truth: list[str], probs: list[list[float]], labels: list[str], positive: str | None = None
) -> dict:
    """roc_auc and pr_auc (binary: of the positive label; else macro one-vs-rest over the
    classes present in `truth`), ece (top-label), and how many classes entered the averages."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p = _arrays(truth, probs, labels)
    present = [k for k in range(len(labels)) if 0 < (y == k).sum() < len(y)]
    if len(labels) == 2:
        positive_index = labels.index(positive) if positive in labels else 1
        present = [positive_index] if present else []
    rocs = [roc_auc_score(y == k, p[:, k]) for k in present]
    prs = [average_precision_score(y == k, p[:, k]) for k in present]
    return {
        "roc_auc": float(sum(rocs) / len(rocs)) if rocs else None,
        "pr_auc": float(sum(prs) / len(prs)) if prs else None,
        "ece": expected_calibration_error(y, p),
        "auc_classes": len(present),
    }


def expected_calibration_error(y, p) -> float | None:
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    if len(y) == 0:
        return None
    value = multiclass_calibration_error(
        torch.as_tensor(p, dtype=torch.float64),
        torch.as_tensor(y),
        num_classes=p.shape[1],
        n_bins=ECE_BINS,
        norm="l1",
    )
    return float(value)


def reliability_curve(truth: list[str], probs: list[list[float]], labels: list[str]) -> dict:
    """Top-label confidence vs accuracy per bin (sklearn's calibration_curve), for the plot."""
    from sklearn.calibration import calibration_curve

    y, p = _arrays(truth, probs, labels)
    if len(y) == 0:
        return {"confidence": [], "accuracy": []}
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(int)
    if correct.min() == correct.max():  # one outcome only: the curve is a single point
        return {"confidence": [float(confidence.mean())], "accuracy": [float(correct[0])]}
    accuracy, mean_conf = calibration_curve(correct, confidence, n_bins=ECE_BINS)
    return {"confidence": mean_conf.tolist(), "accuracy": accuracy.tolist()}


def best_threshold(
    truth: list[str], positive_probs: list[float], positive: str
) -> tuple[float, float | None]:
    """The probability cut-off maximising the positive class's F1 (from validation data), and
    that F1 (None without a positive row, where F1 is undefined; 0.5 is then the cut-off)."""
    import numpy as np
    from sklearn.metrics import f1_score, precision_recall_curve

    y = np.array([t == positive for t in truth])
    p = np.asarray(positive_probs)
    if y.all() or not y.any():
        cut = 0.5
    else:
        precision, recall, thresholds = precision_recall_curve(y, p)
        f1 = 2 * precision[:-1] * recall[:-1] / np.clip(precision[:-1] + recall[:-1], 1e-12, None)
        cut = float(thresholds[int(np.argmax(f1))])
    return cut, float(f1_score(y, p >= cut)) if y.any() else None
