"""Intervals for one row's metric, and paired deltas of two rows on the same examples."""

from __future__ import annotations

import numpy as np

from tunesmith.stats.bootstrap import identity, percentile_interval, studentized_interval
from tunesmith.stats.registry import Statistic


def row_interval(stat: Statistic, cols: dict, idx: np.ndarray, alpha: float) -> dict:
    """Point estimate and (1 - alpha) bootstrap interval of one row's metric."""
    n = len(cols["prediction"])
    value = float(stat.compute(cols, identity(n))[0])
    interval = _studentized(stat, cols, idx, alpha) if stat.pivot else None
    if interval is None:
        values = stat.compute(cols, idx)
        interval = percentile_interval(values, alpha, _centre(stat, value), n=n)
    low, high = within(stat.bounds, *interval)
    return {"value": value, "ci_low": low, "ci_high": high, "n": n, **_caution(stat, cols)}


def _studentized(stat: Statistic, cols: dict, idx: np.ndarray, alpha: float):
    """The bootstrap-t interval on the statistic's pivot scale, mapped to the metric (None when
    it is undefined: then the percentile interval is used)."""
    (estimate,), (se,) = stat.pivot(cols, identity(len(cols["prediction"])))
    interval = studentized_interval(estimate, se, *stat.pivot(cols, idx), alpha)
    return None if interval is None else tuple(float(stat.from_pivot(x)) for x in interval)


def compare_rows(
    stat: Statistic, cols_a: dict, cols_b: dict, idx: np.ndarray, alpha: float
) -> dict:
    """b minus a on the same examples: paired bootstrap interval, p-value, verdict in words.

    "better" is claimed only when the interval excludes zero and the test agrees (p < alpha).
    """
    n = len(cols_a["prediction"])
    a = float(stat.compute(cols_a, identity(n))[0])
    b = float(stat.compute(cols_b, identity(n))[0])
    boot_a, boot_b = stat.compute(cols_a, idx), stat.compute(cols_b, idx)  # the same rows: paired
    deltas = boot_b - boot_a
    low, high = percentile_interval(deltas, alpha, _centre(stat, b - a), n=n)
    low, high = within(_delta_bounds(stat.bounds), low, high)
    # the test's draws are seeded from the bootstrap's first row: reproducible, one seed
    p_value, test = stat.paired_test(stat, cols_a, cols_b, idx.shape[0], idx[0])
    if not np.any(deltas) or n < 2:  # agree on every resample, or one example: no test
        p_value = 1.0
    sign = -1.0 if stat.lower_is_better else 1.0
    significant = bool((low > 0 or high < 0) and p_value < alpha)
    gain = sign * (b - a) > 0
    return {
        "a": a,
        "b": b,
        "delta": b - a,
        "ci_low": low,
        "ci_high": high,
        "relative": (b - a) / abs(a) if a else None,
        "improvement": improvement(stat, a, b, boot_a, boot_b, alpha, n),
        "p_value": p_value,
        "test": test,
        "significant": significant,
        "better": significant and gain,
        "worse": significant and not gain,
        "lower_is_better": stat.lower_is_better,
        "n": n,
        "verdict": _words(significant, gain),
        **_caution(stat, cols_a),
    }


def improvement(stat, a, b, boot_a, boot_b, alpha, n) -> dict | None:
    """Relative gain in the good direction (+0.15 = 15 % better), with its interval: the
    expanded percentile interval of the paired resamples' gains. Simulated
    (tunesmith.stats.calibration.gain_coverage), it covered the true gain in 93-96 % of test
    sets of 20, 50 and 200 for every metric a target can name; BCa (jackknife acceleration)
    covered less at 20 (macro recall 90 %, perplexity 92 %)."""
    if not a:
        return None
    sign = -1.0 if stat.lower_is_better else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = sign * (boot_b - boot_a) / np.abs(boot_a)
    value = sign * (b - a) / abs(a)
    low, high = percentile_interval(gains, alpha, _centre(stat, value), n=n)
    return {"value": value, "ci_low": low, "ci_high": high}


def target_met(gain: dict, goal: float) -> tuple[bool, bool]:
    """Whether a relative gain meets `goal` by its point estimate and by its interval's lower
    bound (the target passes on both): when the true gain equals the goal, test sets pass it
    about alpha / 2 of the time (simulated: gain_coverage's `false_pass`)."""
    return gain["value"] >= goal, gain["ci_low"] >= goal


def _centre(stat: Statistic, estimate: float) -> float | None:
    """The estimate a statistic's interval is bias-corrected towards, if it needs one."""
    return estimate if stat.bias_corrected else None


def _caution(stat: Statistic, cols: dict) -> dict:
    """{"caution": words} when the statistic says its interval is not to be trusted on these
    examples (macro P/R/F1 with a class of few test rows), else nothing."""
    words = stat.caution(cols) if stat.caution else None
    return {"caution": words} if words else {}


def within(bounds: tuple[float, float] | None, low: float, high: float) -> tuple[float, float]:
    """(low, high) kept inside the statistic's `bounds` (none: as it is)."""
    if bounds is None:
        return low, high
    return float(np.clip(low, *bounds)), float(np.clip(high, *bounds))


def _delta_bounds(bounds: tuple[float, float] | None) -> tuple[float, float] | None:
    """The range of b minus a when both lie in `bounds`."""
    return None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])


def _words(significant: bool, gain: bool) -> str:
    if not significant:
        return "no significant difference"
    return f"significantly {'better' if gain else 'worse'}"


def paired_difference(compare: dict | None, row: str, versus: str) -> dict[str, dict]:
    """`row` minus `versus` per metric, paired, from compare.json's comparisons (each stored
    as b minus a of its pair), whichever way round the pair was stored: the one reading of a
    pair, so the report and the model cards cannot give one difference opposite signs.
    Each value: delta, ci_low, ci_high, p_value, significant, better, worse (of `row`),
    lower_is_better, verdict. {} when compare.json has no such pair."""
    for pair in (compare or {}).get("comparisons", []):
        if (pair["a"], pair["b"]) == (versus, row):
            return {key: _as_stored(d) for key, d in pair["metrics"].items()}
        if (pair["a"], pair["b"]) == (row, versus):
            return {key: _reversed(d) for key, d in pair["metrics"].items()}
    return {}


_READ_KEYS = ("delta", "ci_low", "ci_high", "p_value", "significant", "better", "worse")


def _as_stored(d: dict) -> dict:
    return {
        **{key: d.get(key) for key in _READ_KEYS},
        "lower_is_better": d.get("lower_is_better", False),
        "verdict": d["verdict"],
    }


def _reversed(d: dict) -> dict:
    """The same paired comparison read the other way: delta and interval negated (its ends
    swapped), better and worse exchanged."""

    def negated(value):  # 0.0 - x: a zero difference reads +0.0000, never -0.0000
        return None if value is None else 0.0 - value

    significant = bool(d.get("significant"))
    return {
        "delta": negated(d.get("delta")),
        "ci_low": negated(d.get("ci_high")),
        "ci_high": negated(d.get("ci_low")),
        "p_value": d.get("p_value"),
        "significant": significant,
        "better": bool(d.get("worse")),
        "worse": bool(d.get("better")),
        "lower_is_better": d.get("lower_is_better", False),
        "verdict": _words(significant, bool(d.get("worse"))),
    }
