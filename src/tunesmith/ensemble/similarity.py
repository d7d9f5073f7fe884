"""Similarities between two generated texts for minimum-Bayes-risk selection (registered)."""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.registry import Registry

# (candidate, other) -> similarity in [0, 1]
SIMILARITIES: Registry[Callable[[], Callable[[str, str], float]]] = Registry("similarity")


@SIMILARITIES.register("rouge")
def _rouge_l() -> Callable[[str, str], float]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return lambda a, b: scorer.score(b, a)["rougeL"].fmeasure


@SIMILARITIES.register("bleu")
def _bleu() -> Callable[[str, str], float]:
    from sacrebleu.metrics import BLEU

    bleu = BLEU(effective_order=True)
    return lambda a, b: bleu.sentence_score(a, [b]).score / 100.0
