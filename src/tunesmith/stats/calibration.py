"""How honest the intervals and tests are, by simulation from populations of known value.

Each population draws test sets of n per-example columns (seeded numpy) for a metric whose
population value is known: a mean of known distributions, or a smooth function of expected
counts (corpus BLEU, perplexity, macro P/R/F1 of a known confusion matrix). `coverage` counts
the share of `row_interval` intervals containing that value, computed as evaluate computes
them (one `resample_indices` matrix, the library's statistic); `rejections` the share of
`compare_rows` calling two systems significantly different, equal in quality (the null:
about alpha or less) or not (power); `gain_coverage` the share of relative-gain intervals (the
target's) containing the true gain, and how often a target equal to that gain is passed.
tests/test_stats_calibration.py and bench/stats_calibration.py run them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import numpy as np

from tunesmith.stats.bootstrap import identity, resample_indices
from tunesmith.stats.compare import compare_rows, improvement, row_interval, target_met
from tunesmith.stats.registry import STATISTICS
from tunesmith.stats.vectorised import macro_prf


@dataclass(frozen=True)
class Population:
    """Test sets of one metric: `draw(rng, n, shift)` -> (columns of a, columns of b), a's
    and b's outputs on the same n examples; b is better by `shift` (0: equal quality).
    `value(shift)` is the metric's population value of a system better by `shift`."""

    metric: str
    draw: Callable
    value: Callable[[float], float]

    @property
    def truth(self) -> float:
        """The metric's population value for a (shift 0)."""
        return self.value(0.0)


def _frame(n: int, **columns) -> dict:
    return {"prediction": np.full(n, "", dtype=object), **columns}


def _scores(rng, n, shift):
    """Per-example F1-like scores in [0, 1]: a shared difficulty plus each system's noise."""
    difficulty = rng.beta(2.0, 5.0, n)
    return [np.clip(difficulty + rng.normal(s, 0.1, n), 0.0, 1.0) for s in (0.0, shift)]


def _rouge(rng, n, shift):
    a, b = _scores(rng, n, shift)
    return _frame(n, rougeL=a), _frame(n, rougeL=b)


ACCURACY_CHANCE = (7.0, 3.0)  # beta parameters of an example's chance of a right answer


def _accuracy(rng, n, shift):
    chance = rng.beta(*ACCURACY_CHANCE, n)  # each example's difficulty, shared by both systems
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


@cache
def _bleu_value(shift: float) -> float:
    """Corpus BLEU of the population: the formula on the expected counts, summed exactly over
    reference lengths and length offsets (BLEU depends on the counts only through their
    ratios)."""
    from scipy.stats import poisson

    from tunesmith.stats.vectorised import bleu_from_stats

    ref = np.arange(1, 80)[:, None]  # Poisson(15) + 1: the mass past 80 is below 1e-25
    weight = poisson.pmf(ref - 1, 15) / 8.0  # times the 8 equally likely offsets -4..3
    sys = np.maximum(ref + np.arange(-4, 4)[None, :], 1)
    total = [(weight * np.maximum(sys - k, 0)).sum() for k in range(4)]
    correct = np.array(total) * np.clip(BLEU_MATCH + shift, 0, 1)
    ref_len = (weight * np.broadcast_to(ref, sys.shape)).sum()
    expected = np.array([(weight * sys).sum(), ref_len, *correct, *total])
    return float(bleu_from_stats(expected[None, :])[0])


def _classes(prior, hit):
    """A classifier population: class frequencies `prior`, each class answered right with
    chance `hit` (else any other class, uniformly). Its macro values come from the expected
    confusion matrix."""
    prior, hit = np.asarray(prior), np.asarray(hit)
    k = prior.size

    def draw(rng, n, shift):
        labels = rng.choice(k, n, p=prior)
        out = []
        for s in (0.0, shift):
            right = rng.random(n) < np.clip(hit[labels] + s, 0, 1)
            other = (labels + rng.integers(1, k, n)) % k
            pred = np.where(right, labels, other)
            out.append(_frame(n, label_code=labels, pred_code=pred, n_classes=np.array(k)))
        return tuple(out)

    def value(key: str, shift: float) -> float:
        """Macro `key` of the expected confusion matrix, each class right `shift` more often."""
        right = np.clip(hit + shift, 0, 1)
        miss = (1 - right) / (k - 1)
        counts = np.zeros((1, k + 1, k + 1))
        counts[0, :k, :k] = prior[:, None] * np.where(
            np.eye(k, dtype=bool), right[:, None], miss[:, None]
        )
        return float(macro_prf(counts, np.ones(k, dtype=bool))[key][0])

    return draw, value


_EVEN, _EVEN_VALUE = _classes([0.5, 0.3, 0.2], [0.8, 0.6, 0.5])
_RARE, _RARE_VALUE = _classes([0.55, 0.3, 0.12, 0.03], [0.8, 0.6, 0.5, 0.4])


@cache
def populations() -> dict[str, Population]:
    """Every simulated population by name."""
    pops = {
        "rougeL": Population("rougeL", _rouge, _mean_score),
        "accuracy": Population("accuracy", _accuracy, _accuracy_value),
        "perplexity": Population("perplexity", _perplexity, _ppl_value),
        "bleu": Population("bleu", _bleu, _bleu_value),
    }
    for key in ("precision", "recall", "f1"):
        pops[f"{key} (3 classes)"] = Population(key, _EVEN, partial(_EVEN_VALUE, key))
        pops[f"{key} (rare class 3 %)"] = Population(key, _RARE, partial(_RARE_VALUE, key))
    return pops


@cache
def _mean_score(shift: float) -> float:
    """E[clip(D + e)] for D ~ Beta(2, 5), e ~ N(shift, 0.1): a very large sample's mean (one
    seed for every shift, so a gain between two shifts carries little sampling error)."""
    return float(_scores(np.random.default_rng(54321), 1_000_000, shift)[1].mean())


@cache
def _accuracy_value(shift: float) -> float:
    """E[min(C + shift, 1)] for an example's chance C ~ Beta(7, 3) and shift >= 0: E[C] + shift
    less what the clip takes off. Exactly 0.7 at shift 0: a sample's accuracy is a multiple
    of 1 / n, and a truth of 0.7000000000000001 would miss every interval ending at 0.7."""
    from scipy.integrate import quad
    from scipy.stats import beta

    dist = beta(*ACCURACY_CHANCE)
    clipped = quad(lambda c: (c + shift - 1) * dist.pdf(c), 1 - shift, 1)[0] if shift else 0.0
    return float(dist.mean() + shift - clipped)


def _ppl_value(shift: float) -> float:
    """exp(E[nll] / E[tokens]) = exp(E[loss]), loss independent of length."""
    return float(np.exp(PPL_LOSS[0] * PPL_LOSS[1] * np.exp(-shift)))


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


def true_gain(pop: Population, shift: float) -> float:
    """The population's relative gain of b (better by `shift`) over a, in the good direction."""
    sign = -1.0 if STATISTICS.get(pop.metric).lower_is_better else 1.0
    return sign * (pop.value(shift) - pop.truth) / abs(pop.truth)


@cache
def shift_for_gain(pop: Population, gain: float) -> float:
    """The shift whose true relative gain is `gain` (within 1e-6 of a shift)."""
    from scipy.optimize import brentq

    return float(brentq(lambda s: true_gain(pop, s) - gain, 0.0, 2.0, xtol=1e-6))


def gain_coverage(
    pop: Population,
    n: int,
    reps: int,
    gain: float = 0.15,
    resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict:
    """The relative gain's interval and the target's verdict on `reps` paired test sets of n,
    b better than a by a true relative gain of about `gain` (exactly `true_gain`).

    `coverage`: share of the gain's intervals containing the true gain; `false_pass`: share
    of test sets passing a target set at exactly the true gain (it should not pass: about
    alpha / 2, the share of intervals lying wholly above it).
    """
    stat = STATISTICS.get(pop.metric)
    shift = shift_for_gain(pop, gain)
    truth = true_gain(pop, shift)
    rng = np.random.default_rng(seed)
    hits = below = passed = 0
    widths = []
    for rep in range(reps):
        cols_a, cols_b = pop.draw(rng, n, shift)
        idx = resample_indices(n, resamples, seed + rep)
        a, b = (float(stat.compute(c, identity(n))[0]) for c in (cols_a, cols_b))
        boot_a, boot_b = stat.compute(cols_a, idx), stat.compute(cols_b, idx)
        found = improvement(stat, a, b, boot_a, boot_b, alpha, n)
        if found is None:  # a base value of 0: the target is not judged, so not passed
            continue
        hits += found["ci_low"] <= truth <= found["ci_high"]
        below += found["ci_high"] < truth
        passed += all(target_met(found, truth))
        widths.append(found["ci_high"] - found["ci_low"])
    return {
        "true_gain": truth,
        "coverage": hits / reps,
        "missed_low": below / reps,
        "false_pass": passed / reps,
        "median_width": float(np.median(widths)),
    }
