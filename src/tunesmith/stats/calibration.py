"""How honest the intervals and tests are, by simulation from populations of known value.

Each population draws test sets of n per-example columns (seeded numpy) for a metric whose
population value is known: a mean of known distributions, or a smooth function of expected
counts (corpus BLEU, perplexity, macro P/R/F1 of a known confusion matrix). `coverage` counts
the share of `row_interval` intervals containing that value, computed as evaluate computes
them (one `resample_indices` matrix, the library's statistic); `rejections` the share of
`compare_rows` calling two systems significantly different, equal in quality (the null:
about alpha or less) or not (power). tests/test_stats_calibration.py and
bench/stats_calibration.py run them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from tunesmith.stats.bootstrap import resample_indices
from tunesmith.stats.compare import compare_rows, row_interval
from tunesmith.stats.registry import STATISTICS
from tunesmith.stats.vectorised import macro_prf


@dataclass(frozen=True)
class Population:
    """Test sets of one metric: `draw(rng, n, shift)` -> (columns of a, columns of b), a's
    and b's outputs on the same n examples; b is better by `shift` (0: equal quality)."""

    metric: str
    draw: Callable
    truth: float  # the metric's population value for a (shift 0)


def _frame(n: int, **columns) -> dict:
    return {"prediction": np.full(n, "", dtype=object), **columns}


def _scores(rng, n, shift):
    """Per-example F1-like scores in [0, 1]: a shared difficulty plus each system's noise."""
    difficulty = rng.beta(2.0, 5.0, n)
    return [np.clip(difficulty + rng.normal(s, 0.1, n), 0.0, 1.0) for s in (0.0, shift)]


def _rouge(rng, n, shift):
    a, b = _scores(rng, n, shift)
    return _frame(n, rougeL=a), _frame(n, rougeL=b)


def _accuracy(rng, n, shift):
    chance = rng.beta(7.0, 3.0, n)  # each example's difficulty, shared by both systems
    a = rng.random(n) < chance
    b = rng.random(n) < np.clip(chance + shift, 0, 1)
    return _frame(n, correct=a.astype(float)), _frame(n, correct=b.astype(float))


PPL_LOSS = (2.0, 0.5)  # gamma shape and scale of a text's mean token loss: mean 1.0


def _perplexity(rng, n, shift):
    tokens = rng.poisson(30, n) + 1.0
    loss = [rng.gamma(*PPL_LOSS, n) * np.exp(-s) for s in (0.0, shift)]
    return tuple(_frame(n, nll=tokens * x, tokens=tokens) for x in loss)


BLEU_MATCH = np.array([0.6, 0.35, 0.2, 0.12])  # chance an n-gram of order 1..4 matches


def _bleu(rng, n, shift):
    ref = rng.poisson(15, n) + 1
    out = []
    for s in (0.0, shift):
        sys = np.maximum(ref + rng.integers(-4, 4, n), 1)  # slightly short on average
        total = np.maximum(sys[:, None] - np.arange(4)[None, :], 0)
        correct = rng.binomial(total, np.clip(BLEU_MATCH + s, 0, 1))
        stats = np.column_stack([sys, ref, correct, total]).astype(np.int64)
        out.append(_frame(n, bleu_stats=stats))
    return tuple(out)


def _bleu_truth() -> float:
    """Corpus BLEU of the population: the formula on the expected counts (a very large
    sample's sums estimate them; BLEU depends on the counts only through their ratios)."""
    from tunesmith.stats.vectorised import bleu_from_stats

    cols, _ = _bleu(np.random.default_rng(12345), 500_000, 0.0)
    return float(bleu_from_stats(cols["bleu_stats"].sum(axis=0)[None, :])[0])


def _classes(prior, hit):
    """A classifier population: class frequencies `prior`, each class answered right with
    chance `hit` (else any other class, uniformly). Its macro values come from the expected
    confusion matrix."""
    prior, hit = np.asarray(prior), np.asarray(hit)
    k = prior.size
    miss = (1 - hit) / (k - 1)
    confusion = prior[:, None] * np.where(np.eye(k, dtype=bool), hit[:, None], miss[:, None])

    def draw(rng, n, shift):
        labels = rng.choice(k, n, p=prior)
        out = []
        for s in (0.0, shift):
            right = rng.random(n) < np.clip(hit[labels] + s, 0, 1)
            other = (labels + rng.integers(1, k, n)) % k
            pred = np.where(right, labels, other)
            out.append(_frame(n, label_code=labels, pred_code=pred, n_classes=np.array(k)))
        return tuple(out)

    counts = np.zeros((1, k + 1, k + 1))
    counts[0, :k, :k] = confusion
    truth = macro_prf(counts, np.ones(k, dtype=bool))
    return draw, truth


_EVEN, _EVEN_TRUTH = _classes([0.5, 0.3, 0.2], [0.8, 0.6, 0.5])
_RARE, _RARE_TRUTH = _classes([0.55, 0.3, 0.12, 0.03], [0.8, 0.6, 0.5, 0.4])


@cache
def populations() -> dict[str, Population]:
    """Every simulated population by name (BLEU's value takes a second to compute)."""
    pops = {
        "rougeL": Population("rougeL", _rouge, _mean_score()),
        "accuracy": Population("accuracy", _accuracy, 0.7),
        "perplexity": Population("perplexity", _perplexity, _ppl_truth()),
        "bleu": Population("bleu", _bleu, _bleu_truth()),
    }
    for key in ("precision", "recall", "f1"):
        pops[f"{key} (3 classes)"] = Population(key, _EVEN, float(_EVEN_TRUTH[key][0]))
        pops[f"{key} (rare class 3 %)"] = Population(key, _RARE, float(_RARE_TRUTH[key][0]))
    return pops


def _mean_score() -> float:
    """E[clip(D + e)] for D ~ Beta(2, 5), e ~ N(0, 0.1): a very large sample's mean."""
    return float(_scores(np.random.default_rng(54321), 1_000_000, 0.0)[0].mean())


def _ppl_truth() -> float:
    """exp(E[nll] / E[tokens]) = exp(E[loss]), loss independent of length."""
    return float(np.exp(PPL_LOSS[0] * PPL_LOSS[1]))


def coverage(
    pop: Population, n: int, reps: int, resamples: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict:
    """Share of `reps` test sets of n whose interval contains the population value."""
    rng = np.random.default_rng(seed)
    stat = STATISTICS.get(pop.metric)
    hits = below = 0
    widths = []
    for rep in range(reps):
        cols, _ = pop.draw(rng, n, 0.0)
        idx = resample_indices(n, resamples, seed + rep)
        row = row_interval(stat, cols, idx, alpha)
        hits += row["ci_low"] <= pop.truth <= row["ci_high"]
        below += row["ci_high"] < pop.truth
        widths.append(row["ci_high"] - row["ci_low"])
    return {
        "coverage": hits / reps,
        "missed_low": below / reps,  # the interval lay below the value
        "median_width": float(np.median(widths)),
    }


def rejections(
    pop: Population,
    n: int,
    reps: int,
    shift: float = 0.0,
    resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> float:
    """Share of `reps` paired comparisons called significant (b better by `shift`)."""
    rng = np.random.default_rng(seed)
    stat = STATISTICS.get(pop.metric)
    hits = 0
    for rep in range(reps):
        cols_a, cols_b = pop.draw(rng, n, shift)
        idx = resample_indices(n, resamples, seed + rep)
        hits += compare_rows(stat, cols_a, cols_b, idx, alpha)["significant"]
    return hits / reps
