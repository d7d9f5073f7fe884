"""Paired tests from the well-kept libraries: exact McNemar (scipy's binomial test on the
discordant pairs, as statsmodels' mcnemar(exact=True)) and sacrebleu's paired bootstrap."""

from __future__ import annotations

import numpy as np


def mcnemar_exact(cols_a: dict, cols_b: dict, resamples: int) -> tuple[float, str]:
    """Two-sided exact McNemar p-value for paired 0/1 correctness."""
    from scipy.stats import binomtest

    a, b = cols_a["correct"].astype(bool), cols_b["correct"].astype(bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0, "exact McNemar"
    return float(binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue), "exact McNemar"


def sacrebleu_paired_bootstrap(cols_a: dict, cols_b: dict, resamples: int) -> tuple[float, str]:
    """sacrebleu's own paired bootstrap (Koehn 2004) for corpus BLEU; its seed (12345)."""
    from sacrebleu.significance import PairedTest

    from tunesmith.metrics.tokenization import bleu_metric, bleu_tokenizer

    refs = [list(cols_a["reference"])]
    # the tokenizer the per-example counts were made with (decided by the same references)
    test = PairedTest(
        [("a", list(cols_a["prediction"])), ("b", list(cols_b["prediction"]))],
        {"BLEU": bleu_metric(bleu_tokenizer(refs[0]))},
        refs,
        test_type="bs",
        n_samples=resamples,
    )
    _, scores = test()
    return float(scores["BLEU"][1].p_value), "sacrebleu paired bootstrap"
