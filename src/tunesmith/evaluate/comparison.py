"""metrics.json and compare.json from prediction rows: intervals, paired tests, the target."""

from __future__ import annotations

from tunesmith.config.schema import Recipe
from tunesmith.config.tasks import metric_keys
from tunesmith.evaluate.rows import row_pairs
from tunesmith.stats import STATISTICS, columns_for, compare_rows, row_interval
from tunesmith.stats.bootstrap import resample_indices
from tunesmith.stats.compare import target_met


def statistics_of(recipe: Recipe, predictions: dict[str, list[dict]], labels, pairs=None) -> dict:
    """{'rows': per-row intervals, 'comparisons': paired deltas} for every metric key;
    `pairs` (a, b) default to `row_pairs` (a run group passes its own)."""
    ev = recipe.evaluation
    keys = metric_keys(recipe.metrics())
    cols = {name: columns_for(rows, labels) for name, rows in predictions.items()}
    n = len(next(iter(predictions.values())))
    idx = resample_indices(n, ev.bootstrap_resamples, ev.bootstrap_seed)
    # A statistic is computed for every row that has its columns (the classic baseline has no
    # perplexity), and compared for every pair that both have them.
    stats = {k: STATISTICS.get(k) for k in keys if _has_columns(STATISTICS.get(k), cols)}
    rows = {
        name: {
            k: row_interval(stat, c, idx, ev.alpha)
            for k, stat in stats.items()
            if all(col in c for col in stat.columns)
        }
        for name, c in cols.items()
    }
    comparisons = [
        {
            "a": a,
            "b": b,
            "metrics": {
                k: compare_rows(stat, cols[a], cols[b], idx, ev.alpha)
                for k, stat in stats.items()
                if k in rows[a] and k in rows[b]
            },
        }
        for a, b in (pairs if pairs is not None else row_pairs(list(predictions)))
    ]
    return {"rows": rows, "comparisons": comparisons}


def _has_columns(stat, cols: dict) -> bool:
    return any(all(c in row_cols for c in stat.columns) for row_cols in cols.values())


def build_compare(recipe: Recipe, stats: dict, labels_of: dict[str, str], n: int) -> dict:
    """compare.json: every row's intervals, every pair, tuned vs base headline, the target."""
    ev = recipe.evaluation
    headline = _pair(stats, "base", "tuned")
    metrics = {k: {**pair, "base": pair["a"], "tuned": pair["b"]} for k, pair in headline.items()}
    return {
        "sample_size": n,
        "confidence": 1 - ev.alpha,
        "alpha": ev.alpha,
        "resamples": ev.bootstrap_resamples,
        "seed": ev.bootstrap_seed,
        "rows": {
            name: {"label": labels_of.get(name, name), "metrics": values}
            for name, values in stats["rows"].items()
        },
        "comparisons": stats["comparisons"],
        "metrics": metrics,
        "target": target_verdict(recipe, metrics),
    }


def _pair(stats: dict, a: str, b: str) -> dict:
    for comparison in stats["comparisons"]:
        if (comparison["a"], comparison["b"]) == (a, b):
            return comparison["metrics"]
    return {}


def target_verdict(recipe: Recipe, metrics: dict) -> dict:
    """Pass/fail of `evaluation.target` on the point estimate and on the lower bound."""
    key, goal = recipe.target_metric(), recipe.evaluation.target.relative_gain
    pair = metrics.get(key)
    gain = pair and pair["improvement"]
    if not gain:  # no such metric, or a base value of 0: a relative gain is undefined
        why = "not computed" if pair is None else "base value is 0, a relative gain is undefined"
        return {
            "metric": key,
            "relative_gain": goal,
            "pass_point": False,
            "pass_lower_bound": False,
            "passed": False,
            "judged": False,  # shown NOT JUDGED, not FAIL (--fail-under-target still exits 3)
            "summary": f"target not judged: {why}",
        }
    point, lower = target_met(gain, goal)
    passed = point and lower
    if passed:
        words = "target met, also by the interval's lower bound"
    elif point:
        words = "target met by the point estimate only: the interval's lower bound misses it"
    else:
        words = "target missed"
    return {
        "metric": key,
        "relative_gain": goal,
        "achieved": gain["value"],
        "achieved_ci_low": gain["ci_low"],
        "achieved_ci_high": gain["ci_high"],
        "pass_point": point,
        "pass_lower_bound": lower,
        "passed": passed,
        "lower_is_better": pair["lower_is_better"],
        "summary": f"{words}: {100 * gain['value']:+.1f} % "
        f"[{100 * gain['ci_low']:+.1f}, {100 * gain['ci_high']:+.1f}] vs "
        f"{100 * goal:+.0f} % on {key}",
    }
