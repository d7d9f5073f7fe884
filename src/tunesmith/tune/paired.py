"""Best vs default on the same test examples: paired bootstrap intervals on per-example scores.

Stand-in for the evaluation layer's paired statistics: `compare_runs` is the one entry point.
Only metrics whose corpus value is the mean of per-example scores are compared here (ROUGE,
accuracy); the others are shown side by side from each run's eval/metrics.json.
"""

from __future__ import annotations

import json

from tunesmith.artifacts import RunDir, read_jsonl

PER_EXAMPLE = ("rouge", "accuracy")
RESAMPLES = 2000
ALPHA = 0.05


def compare_runs(run_a: RunDir, run_b: RunDir, metrics: list[str], labels=None, seed=0) -> dict:
    """{'n', 'rows': [{metric, a, b, delta, ci_low, ci_high, p_value, significant, n}], ...}."""
    a = {r["id"]: r for r in _predictions(run_a)}
    b = {r["id"]: r for r in _predictions(run_b)}
    ids = [i for i in a if i in b]
    rows = []
    for name in (m for m in PER_EXAMPLE if m in metrics):
        scores_a = _per_example(name, [a[i] for i in ids], labels)
        scores_b = _per_example(name, [b[i] for i in ids], labels)
        for key in scores_a:
            rows.append(paired_row(key, scores_a[key], scores_b[key], seed))
    return {
        "n": len(ids),
        "rows": rows,
        "metrics": {"a": _metrics(run_a), "b": _metrics(run_b)},
    }


def paired_row(metric: str, a: list[float], b: list[float], seed: int = 0) -> dict:
    """Mean difference a - b with a paired bootstrap interval and a paired permutation p."""
    import numpy as np
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    row = {"metric": metric, "a": float(x.mean()), "b": float(y.mean()), "n": len(x)}
    row["delta"] = row["a"] - row["b"]
    if len(x) < 2 or np.allclose(x, y):
        same = {"ci_low": row["delta"], "ci_high": row["delta"], "p_value": 1.0}
        return {**row, **same, "significant": False}

    def mean_diff(u, v, axis=-1):
        return np.mean(u - v, axis=axis)

    ci = stats.bootstrap(
        (x, y), mean_diff, paired=True, n_resamples=RESAMPLES, vectorized=True, rng=seed
    ).confidence_interval
    test = stats.permutation_test(
        (x, y), mean_diff, permutation_type="samples", n_resamples=RESAMPLES, rng=seed
    )
    return {
        **row,
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "p_value": float(test.pvalue),
        "significant": bool(test.pvalue < ALPHA),
    }


def _per_example(name: str, rows: list[dict], labels) -> dict[str, list[float]]:
    from tunesmith.metrics import compute_metrics

    scores: dict[str, list[float]] = {}
    for row in rows:
        values = compute_metrics([name], [row["prediction"]], [row["reference"]], labels=labels)
        for key, value in values.items():
            scores.setdefault(key, []).append(float(value))
    return scores


def _predictions(run_dir: RunDir) -> list[dict]:
    path = run_dir.eval / "predictions" / "test.tuned.jsonl"
    return read_jsonl(path) if path.is_file() else []


def _metrics(run_dir: RunDir) -> dict:
    path = run_dir.eval / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
