"""The checks' base-vs-tuned statistics: a single example is never 'significant'."""

from __future__ import annotations

from types import SimpleNamespace

from tunesmith.checks.stats import mean_base_vs_tuned


def _recipe():
    ev = SimpleNamespace(bootstrap_resamples=500, bootstrap_seed=0, alpha=0.05)
    return SimpleNamespace(evaluation=ev)


def test_one_example_is_not_significant_however_large_the_difference():
    result = mean_base_vs_tuned(_recipe(), "output_divergence", [0.7], [0.05], True)
    assert abs(result["delta"]["delta"] + 0.65) < 1e-9
    assert result["delta"]["p_value"] == 1.0 and not result["delta"]["significant"]
    assert result["delta"]["verdict"] == "no significant difference"


def test_many_examples_with_a_clear_difference_are_significant():
    result = mean_base_vs_tuned(
        _recipe(), "output_divergence", [0.7] * 30, [0.05] * 29 + [0.1], True
    )
    assert result["delta"]["significant"] and result["delta"]["better"]
