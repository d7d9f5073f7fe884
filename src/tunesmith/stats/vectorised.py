"""Corpus statistics on many resamples at once: BLEU from summed n-gram counts, macro P/R/F1
from resampled confusion counts. Each equals its reference implementation (sacrebleu,
scikit-learn) on the same examples; tests/test_stats.py checks that."""

from __future__ import annotations

import numpy as np

LOG_ZERO = -9999999999.0  # sacrebleu's my_log(0)


def bleu_from_stats(stats: np.ndarray) -> np.ndarray:
    """sacrebleu's BLEU.compute_bleu (smooth 'exp', order 4) for each row of summed stats.

    `stats` rows are [sys_len, ref_len, correct_1..4, total_1..4] (sacrebleu's layout).
    """
    stats = stats.astype(np.float64)
    sys_len, ref_len = stats[:, 0], stats[:, 1]
    correct, total = stats[:, 2:6], stats[:, 6:10]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(
            sys_len < ref_len,
            np.where(sys_len > 0, np.exp(1 - ref_len / np.maximum(sys_len, 1)), 0.0),
            1.0,
        )
        smooth = np.cumprod(np.where(correct == 0, 2.0, 1.0), axis=1)
        precision = np.where(correct > 0, 100.0 * correct / total, 100.0 / (smooth * total))
        # sacrebleu stops at the first order without n-grams; later precisions stay 0
        reached = np.cumprod(total > 0, axis=1).astype(bool)
        precision = np.where(reached, precision, 0.0)
        logs = np.where(precision > 0, np.log(np.where(precision > 0, precision, 1.0)), LOG_ZERO)
    score = bp * np.exp(logs.mean(axis=1))
    return np.where(correct.sum(axis=1) > 0, score, 0.0)


def confusion_counts(label_code: np.ndarray, pred_code: np.ndarray, k: int, idx: np.ndarray):
    """(B, k+1, k+1) confusion counts per resample, rows true and columns predicted; row and
    column k = not a known label (a test label never seen in training: its example is no
    known class's miss, but a known class predicted for it is that class's false positive)."""
    b = idx.shape[0]
    cells = (k + 1) * (k + 1)
    codes = label_code * (k + 1) + pred_code
    flat = (np.arange(b)[:, None] * cells + codes[idx]).ravel()
    return np.bincount(flat, minlength=b * cells).reshape(b, k + 1, k + 1)


def measured_labels(label_code: np.ndarray, pred_code: np.ndarray, k: int) -> np.ndarray:
    """(k,) mask of the known labels a sample measures: true or predicted in it (scikit-learn's
    `labels=None` set, restricted to the known labels; an invalid prediction is a miss)."""
    codes = np.concatenate([label_code, pred_code])
    return np.bincount(codes[codes < k], minlength=k) > 0


def in_resample(counts: np.ndarray) -> np.ndarray:
    """(B, k) mask of the known labels each resample measures: true or predicted in it."""
    k = counts.shape[1] - 1
    return (counts[:, :k, :].sum(axis=2) > 0) | (counts[:, :, :k].sum(axis=1) > 0)


def macro_prf(counts: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Macro precision, recall and F1 per resample (scikit-learn, zero_division=0), averaged
    over the known labels in `labels`: a (k,) mask for every resample, or (B, k), one each.

    corpus.py passes the full sample's measured set less the labels a resample does not
    measure. Averaging over whatever labels a plain resample happened to contain moved the
    interval off the estimate (a rare class falls out of a third of the resamples), so the
    macro statistics resample within reference classes; only classes seen once, drawn as one
    pool, can be out of a resample, and they are left out of its average rather than
    counted 0.
    """
    k = counts.shape[1] - 1  # the last row and column: not a known label
    tp = counts[:, np.arange(k), np.arange(k)].astype(np.float64)
    predicted = counts[:, :, :k].sum(axis=1)  # per predicted class, whatever the truth
    actual = counts[:, :k, :].sum(axis=2)  # per true class (invalid predictions are misses)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        denom = predicted + actual
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    classes = np.maximum(np.broadcast_to(labels, precision.shape).sum(axis=1), 1)
    return {
        name: (values * labels).sum(axis=1) / classes
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1))
    }
