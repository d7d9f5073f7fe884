"""Statistics against reference computations on fixed inputs (numpy, scipy, statsmodels,
sacrebleu, scikit-learn), including a difference within noise that must not be 'better'."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.metrics import compute_metrics
from tunesmith.metrics.per_example import example_scores
from tunesmith.stats import STATISTICS, columns_for, compare_rows, row_interval
from tunesmith.stats.bootstrap import identity, resample_indices

HYPS = ["the cat sat on the mat", "a quick brown fox", "hello world", "python text editor", ""]
REFS = [
    "the cat is on the mat",
    "the quick brown fox jumps",
    "hello there world",
    "text editor",
    "x",
]


def rows_of(predictions, references, names=("rouge", "bleu"), labels=None):
    scores = example_scores(list(names), predictions, references, labels)
    return [
        {"id": str(i), "key": str(i), "prediction": p, "reference": r, "scores": s}
        for i, (p, r, s) in enumerate(zip(predictions, references, scores))
    ]


def test_bootstrap_interval_matches_a_direct_numpy_computation():
    rng = np.random.default_rng(1)
    values = rng.random(50)
    rows = [{"prediction": "", "reference": "", "scores": {"rougeL": v}} for v in values]
    cols = columns_for(rows)
    out = row_interval(STATISTICS.get("rougeL"), cols, resample_indices(50, 2000, 7), 0.05)
    # the same resamples drawn directly: numpy PCG64 seeded 7, integers(0, n, (B, n))
    direct = np.random.default_rng(7).integers(0, 50, size=(2000, 50))
    means = values[direct].mean(axis=1)
    assert out["value"] == pytest.approx(values.mean())
    # the expanded percentile interval: each tail at 2 norm.sf(sqrt(n / (n - 1)) t_{n-1})
    from scipy.stats import norm, t

    tail = norm.sf(np.sqrt(50 / 49) * t.isf(0.025, 49))
    assert 0.02 < tail < 0.025  # a little wider than the plain percentile interval
    assert out["ci_low"] == pytest.approx(np.quantile(means, tail))
    assert out["ci_high"] == pytest.approx(np.quantile(means, 1 - tail))


def test_bootstrap_interval_agrees_with_scipy_percentile_bootstrap():
    from scipy.stats import bootstrap

    values = np.random.default_rng(3).normal(0.4, 0.1, 200)
    rows = [{"prediction": "", "reference": "", "scores": {"rougeL": v}} for v in values]
    ours = row_interval(
        STATISTICS.get("rougeL"), columns_for(rows), resample_indices(200, 5000, 0), 0.05
    )
    ref = bootstrap((values,), np.mean, n_resamples=5000, method="percentile", random_state=0)
    assert ours["ci_low"] == pytest.approx(ref.confidence_interval.low, abs=2e-3)
    assert ours["ci_high"] == pytest.approx(ref.confidence_interval.high, abs=2e-3)


def test_corpus_bleu_from_sentence_stats_equals_sacrebleu_on_every_resample():
    import sacrebleu

    rows = rows_of(HYPS, REFS)
    cols = columns_for(rows)
    bleu = STATISTICS.get("bleu")
    assert bleu.compute(cols, identity(5))[0] == pytest.approx(
        sacrebleu.corpus_bleu(HYPS, [REFS]).score
    )
    idx = resample_indices(5, 1000, 0)[:20]
    for row, value in zip(idx, bleu.compute(cols, idx)):
        ref = sacrebleu.corpus_bleu([HYPS[i] for i in row], [[REFS[i] for i in row]]).score
        assert value == pytest.approx(ref)


def test_rouge_and_perplexity_statistics_equal_the_corpus_figures():
    rows = rows_of(HYPS, REFS)
    cols = columns_for(rows)
    corpus = compute_metrics(["rouge"], HYPS, REFS)
    for key in ("rouge1", "rouge2", "rougeL"):
        assert STATISTICS.get(key).compute(cols, identity(5))[0] == pytest.approx(corpus[key])
    nll = {"nll": np.array([2.0, 6.0, 1.0]), "tokens": np.array([1.0, 3.0, 4.0])}
    ppl = STATISTICS.get("perplexity").compute(nll, np.array([[0, 1, 2], [1, 1, 2]]))
    assert ppl == pytest.approx([np.exp(9 / 8), np.exp(13 / 10)])


LABELS = ["devel", "utils", "net"]
TRUTH = ["devel", "utils", "net", "devel", "utils", "net", "devel", "devel", "utils", "net"] * 3
GUESS = ["devel", "devel", "net", "devel", "utils", "junk", "devel", "utils", "utils", "net"] * 3


def test_macro_prf_equals_scikit_learn_including_invalid_labels():
    """Every resample averages over the whole sample's labels (scikit-learn's `labels=`)."""
    from sklearn.metrics import precision_recall_fscore_support

    rows = rows_of(GUESS, TRUTH, names=("f1",), labels=LABELS)
    cols = columns_for(rows, LABELS)
    idx = resample_indices(len(TRUTH), 1000, 0)[:25]
    for key, which in (("precision", 0), ("recall", 1), ("f1", 2)):
        values = STATISTICS.get(key).compute(cols, idx)
        for row, value in zip(idx, values):
            truth, guess = [TRUTH[i] for i in row], [GUESS[i] for i in row]
            ref = precision_recall_fscore_support(
                truth, guess, labels=LABELS, average="macro", zero_division=0
            )[which]
            assert value == pytest.approx(ref)


def test_a_test_label_never_seen_in_training_is_no_class_and_no_crash():
    """A reference outside the known labels (warned about at the split) coded k once spilled
    into the next resample's confusion counts and crashed the point estimate (reshape)."""
    from sklearn.metrics import precision_recall_fscore_support

    truth, guess = TRUTH + ["unseen", "unseen"], GUESS + ["utils", "junk"]
    rows = rows_of(guess, truth, names=("f1",), labels=LABELS)
    cols = columns_for(rows, LABELS)
    idx = resample_indices(len(truth), 1000, 0)[:25]
    for key, which in (("precision", 0), ("recall", 1), ("f1", 2)):
        point = STATISTICS.get(key).compute(cols, np.arange(len(truth))[None, :])[0]
        ref = precision_recall_fscore_support(
            truth, guess, labels=LABELS, average="macro", zero_division=0
        )[which]
        assert point == pytest.approx(ref)
        assert STATISTICS.get(key).compute(cols, idx).shape == (25,)


def long_tail(seed: int, good: bool):
    """80 test rows over 46 classes with a long tail (most classes seen once or twice); a
    poor model answers the biggest class (and c40, never true), a good one is right on every
    rare class."""
    rng = np.random.default_rng(seed)
    labels = [f"c{i}" for i in range(46)]
    counts = [12, 10, 6, 4, 3, 3] + [2] * 10 + [1] * 22  # 80 rows over 38 classes
    truth = [label for label, c in zip(labels, counts) for _ in range(c)]
    if good:
        guess = [t if rng.random() < 0.8 or i > 15 else "c0" for i, t in enumerate(truth)]
    else:
        guess = ["c40" if i % 10 == 5 else "c0" for i in range(len(truth))]
    return truth, guess, labels


@pytest.mark.parametrize("good", [False, True])
def test_macro_interval_contains_its_estimate_with_rare_classes(good):
    """Rare classes fall out of a third of plain resamples; averaging over the labels each
    resample contains put recall's interval at [0.032, 0.043] around an estimate of 0.029."""
    from sklearn.metrics import precision_recall_fscore_support

    truth, guess, labels = long_tail(0, good)
    cols = columns_for(rows_of(guess, truth, names=("f1",), labels=labels), labels)
    idx = resample_indices(len(truth), 2000, 0)
    measured = sorted(set(truth) | set(guess), key=labels.index)  # c40: only predicted
    expected = precision_recall_fscore_support(
        truth, guess, labels=measured, average="macro", zero_division=0
    )
    for key, ref in zip(("precision", "recall", "f1"), expected):
        out = row_interval(STATISTICS.get(key), cols, idx, 0.05)
        assert out["value"] == pytest.approx(ref)
        assert out["ci_low"] <= out["value"] <= out["ci_high"], (key, out)


def test_macro_intervals_flag_classes_of_few_test_rows_and_stay_reproducible():
    """The long tail's classes of one or two rows make the macro interval too narrow
    (tunesmith.stats.calibration): row and pair say so, and the same seed gives the same
    numbers."""
    from tunesmith.stats import compare_rows

    truth, guess, labels = long_tail(0, good=False)
    better = long_tail(0, good=True)[1]
    cols_a = columns_for(rows_of(guess, truth, names=("f1",), labels=labels), labels)
    cols_b = columns_for(rows_of(better, truth, names=("f1",), labels=labels), labels)
    stat = STATISTICS.get("recall")
    delta = compare_rows(stat, cols_a, cols_b, resample_indices(len(truth), 1000, 3), 0.05)
    again = compare_rows(stat, cols_a, cols_b, resample_indices(len(truth), 1000, 3), 0.05)
    assert delta == again
    assert delta["ci_low"] <= delta["delta"] <= delta["ci_high"]
    assert delta["caution"].startswith("37 class(es) averaged over have fewer than 10 test rows")
    assert "(fewest: 0)" in delta["caution"]  # c40: predicted, never true
    row = row_interval(stat, cols_a, resample_indices(len(truth), 1000, 3), 0.05)
    assert row["caution"] == delta["caution"]
    # 30 rows of each of two classes: nothing to flag
    plenty = columns_for(rows_of(["c0", "c1"] * 30, ["c0", "c1"] * 30, ("f1",), labels), labels)
    assert "caution" not in row_interval(stat, plenty, resample_indices(60, 1000, 0), 0.05)


def test_the_report_says_when_a_macro_interval_rests_on_few_rows():
    from tunesmith.config.loader import recipe_from_dict
    from tunesmith.evaluate.comparison import build_compare
    from tunesmith.report.html import environment
    from tunesmith.stats import compare_rows

    truth, guess, labels = long_tail(0, good=False)
    cols = columns_for(rows_of(guess, truth, names=("f1",), labels=labels), labels)
    idx, stat = resample_indices(len(truth), 1000, 0), STATISTICS.get("f1")
    pair = compare_rows(stat, cols, cols, idx, 0.05)
    stats = {
        "rows": {"base": {"f1": row_interval(stat, cols, idx, 0.05)}},
        "comparisons": [{"a": "base", "b": "tuned", "metrics": {"f1": pair}}],
    }
    recipe = recipe_from_dict(
        {"task": "summarization", "data": {"train": "x", "input_field": "a", "output_field": "b"}}
    )
    compare = build_compare(recipe, stats, {"base": "Base"}, len(truth))
    page = environment().get_template("eval_headline.html.j2").render(compare=compare)
    assert f"f1 intervals: {pair['caution']}." in page


def test_exact_mcnemar_matches_statsmodels():
    from statsmodels.stats.contingency_tables import mcnemar

    a = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1] * 2, dtype=float)
    b = np.array([1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1] * 2, dtype=float)
    cols_a = {"correct": a, "prediction": np.array([""] * len(a), dtype=object)}
    cols_b = {"correct": b, "prediction": cols_a["prediction"]}
    out = compare_rows(
        STATISTICS.get("accuracy"), cols_a, cols_b, resample_indices(32, 1000, 0), 0.05
    )
    table = [
        [np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
        [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))],
    ]
    assert out["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert out["test"] == "exact McNemar"
    assert out["delta"] == pytest.approx(b.mean() - a.mean())


def test_noise_level_difference_is_reported_as_not_significant():
    rng = np.random.default_rng(0)
    base = rng.random(40)
    tuned = base + rng.normal(0.005, 0.2, 40)  # a tiny gain drowned in per-example noise
    cols = [{"rougeL": v, "prediction": np.array([""] * 40, dtype=object)} for v in (base, tuned)]
    out = compare_rows(STATISTICS.get("rougeL"), *cols, resample_indices(40, 1000, 0), 0.05)
    assert out["ci_low"] < 0 < out["ci_high"]
    assert out["p_value"] > 0.05
    assert not out["significant"] and not out["better"]
    assert out["verdict"].startswith("no significant difference")


def test_clear_difference_is_significant_and_better_and_perplexity_direction():
    base = np.linspace(0.1, 0.3, 60)
    cols = [
        {"rougeL": v, "prediction": np.array([""] * 60, dtype=object)} for v in (base, base + 0.2)
    ]
    out = compare_rows(STATISTICS.get("rougeL"), *cols, resample_indices(60, 1000, 0), 0.05)
    assert out["better"] and out["ci_low"] > 0 and out["p_value"] < 0.01
    nll = [
        {
            "nll": np.full(30, v),
            "tokens": np.ones(30),
            "prediction": np.array([""] * 30, dtype=object),
        }
        for v in (3.0, 2.0)
    ]
    nll[1]["nll"] = nll[1]["nll"] + np.random.default_rng(0).normal(0, 0.1, 30)
    out = compare_rows(STATISTICS.get("perplexity"), *nll, resample_indices(30, 1000, 0), 0.05)
    assert out["lower_is_better"] and out["delta"] < 0 and out["better"]
    assert out["improvement"]["value"] == pytest.approx(1 - out["b"] / out["a"])


def test_bleu_difference_is_tested_by_paired_permutation():
    rows_a = rows_of(HYPS * 4, REFS * 4)
    rows_b = rows_of(REFS * 4, REFS * 4)  # the references themselves: far better
    out = compare_rows(
        STATISTICS.get("bleu"),
        columns_for(rows_a),
        columns_for(rows_b),
        resample_indices(20, 1000, 0),
        0.05,
    )
    assert out["test"] == "paired permutation"
    assert out["p_value"] < 0.05 and out["better"]


def test_permutation_p_value_is_exact_for_few_examples():
    """Two examples, both better: of the 4 ways to swap the pairs, 2 give a difference as
    large, so p = 0.5 (two-sided). The paired bootstrap said 0.002, "significant"."""
    nll = [
        {"nll": v, "tokens": np.ones(2), "prediction": np.array(["", ""], dtype=object)}
        for v in (np.array([3.0, 2.5]), np.array([2.0, 1.0]))
    ]
    out = compare_rows(STATISTICS.get("perplexity"), *nll, resample_indices(2, 1000, 0), 0.05)
    assert out["p_value"] == pytest.approx(0.5)
    assert not out["significant"] and out["verdict"] == "no significant difference"
    # Six examples of ROUGE: the exact p-value counts the 64 sign flips of the differences.
    a, b = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), np.array([0.3, 0.1, 0.6, 0.5, 0.9, 0.7])
    flips = np.array(np.meshgrid(*[[1, -1]] * 6)).reshape(6, -1).T
    extreme = np.abs((flips * (b - a)).mean(axis=1)) >= abs((b - a).mean()) - 1e-12
    cols = [{"rougeL": v, "prediction": np.array([""] * 6, dtype=object)} for v in (a, b)]
    out = compare_rows(STATISTICS.get("rougeL"), *cols, resample_indices(6, 1000, 0), 0.05)
    assert out["p_value"] == pytest.approx(extreme.mean())


def test_classes_seen_once_get_a_real_interval_and_no_false_verdict():
    """Six test rows, one per class; base and tuned equally accurate (1 of 6) but on other
    classes. The interval had zero width and the macro F1 gain read 'significant', p 0.002,
    with a PASS of the relative-gain target by the interval's lower bound."""
    labels = [f"k{i}" for i in range(12)]
    truth = ["k0", "k1", "k2", "k3", "k4", "k5"]
    base = ["k0", "k6", "k6", "k6", "k6", "k6"]
    tuned = ["k7", "k1", "k7", "k8", "k9", "k9"]
    cols_a = columns_for(rows_of(base, truth, names=("f1",), labels=labels), labels)
    cols_b = columns_for(rows_of(tuned, truth, names=("f1",), labels=labels), labels)
    idx = resample_indices(6, 1000, 0)
    for key in ("precision", "recall", "f1"):
        out = compare_rows(STATISTICS.get(key), cols_a, cols_b, idx, 0.05)
        assert out["ci_high"] - out["ci_low"] > 0.01, (key, out)
        assert out["ci_low"] <= out["delta"] <= out["ci_high"], (key, out)
        assert out["p_value"] > 0.5 and not out["significant"], (key, out)
        assert out["improvement"] is None or out["improvement"]["ci_low"] < 0, (key, out)
        row = row_interval(STATISTICS.get(key), cols_b, idx, 0.05)
        assert row["ci_high"] - row["ci_low"] > 0.01, (key, row)


def test_stats_component_imports_without_torch():
    import subprocess
    import sys

    code = "import sys, tunesmith.stats, tunesmith.evaluate.rows; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_every_statistic_has_a_per_example_score_for_error_analysis():
    """`evaluation.metrics: [bleu]` left error analysis no metric to rank examples by: the run
    trained, then evaluate ended in a StopIteration traceback."""
    missing = [name for name in STATISTICS.names() if STATISTICS.get(name).example_score is None]
    assert missing == []
    scores = example_scores(["bleu"], ["the cat sat on the mat", "x y"], REFS[:1] * 2, None)
    bleu = STATISTICS.get("bleu").example_score
    assert bleu(scores[0]) > bleu(scores[1]) == 0.0


def test_macro_intervals_stay_within_the_metrics_range_on_few_rows():
    """The bias correction moves a macro interval by the resamples' mean bias; on a handful of
    rows that carried F1's upper bound to 1.012 and precision's lower bound to -0.036."""
    labels = ["a", "b", "c"]
    rng = np.random.default_rng(0)
    seen = {"above": 0, "below": 0}
    for _ in range(40):
        truth = list(rng.choice(labels, size=4))
        guess = [t if rng.random() < 0.6 else str(rng.choice(labels)) for t in truth]
        other = list(rng.choice(labels, size=4))
        cols = columns_for(rows_of(guess, truth, names=("f1",), labels=labels), labels)
        cols_b = columns_for(rows_of(other, truth, names=("f1",), labels=labels), labels)
        idx = resample_indices(4, 500, 0)
        for key in ("precision", "recall", "f1"):
            stat = STATISTICS.get(key)
            out = row_interval(stat, cols, idx, 0.05)
            assert 0.0 <= out["ci_low"] <= out["ci_high"] <= 1.0, (key, truth, guess, out)
            seen["above"] += out["ci_high"] == 1.0
            seen["below"] += out["ci_low"] == 0.0
            delta = compare_rows(stat, cols, cols_b, idx, 0.05)
            assert -1.0 <= delta["ci_low"] <= delta["ci_high"] <= 1.0, (key, delta)
    assert seen["above"] and seen["below"]  # the bounds were reached, so they were tested
