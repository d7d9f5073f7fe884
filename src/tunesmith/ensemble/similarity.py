"""Similarities between two generated texts for minimum-Bayes-risk selection (registered).

Tokenised as every other ROUGE / BLEU score (metrics/tokenization.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tunesmith.registry import Registry

# (texts) -> (candidate, other) -> similarity in [0, 1]; `texts` (every candidate the
# selection will compare) decide tokenisation once, so all pairs are measured alike.
SIMILARITIES: Registry[Callable[..., Callable[[str, str], float]]] = Registry("similarity")


@SIMILARITIES.register("rouge")
def _rouge_l(texts: Sequence[str] = ()) -> Callable[[str, str], float]:
    from tunesmith.metrics.tokenization import rouge_scorer

    scorer = rouge_scorer(["rougeL"])
    return lambda a, b: scorer.score(b, a)["rougeL"].fmeasure


@SIMILARITIES.register("bleu")
def _bleu(texts: Sequence[str] = ()) -> Callable[[str, str], float]:
    from tunesmith.metrics.tokenization import bleu_metric, bleu_texts, bleu_tokenizer

    # No references at selection time: the candidates' own script decides the tokenizer.
    need, bleu = bleu_tokenizer(texts), bleu_metric(effective_order=True)

    def similarity(a: str, b: str) -> float:
        (hypothesis,), (reference,) = bleu_texts([a], [b], need)
        return bleu.sentence_score(hypothesis, [reference]).score / 100.0

    return similarity
