"""ROUGE (rouge-score) and BLEU (sacrebleu) for generated text, tokenised as in
metrics/tokenization.py (every script kept; English tokens as the libraries' defaults)."""

from __future__ import annotations

from tunesmith.metrics.registry import METRICS
from tunesmith.metrics.tokenization import bleu_metric, bleu_texts, rouge_scorer


@METRICS.register("rouge")
def rouge(predictions: list[str], references: list[str], **_) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 over examples (rouge-score, Porter stemming of English words)."""
    scorer = rouge_scorer(["rouge1", "rouge2", "rougeL"])
    sums = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, prediction)
        for key in sums:
            sums[key] += scores[key].fmeasure
    n = max(len(predictions), 1)
    return {key: value / n for key, value in sums.items()}


@METRICS.register("bleu")
def bleu(predictions: list[str], references: list[str], **_) -> dict[str, float]:
    """Corpus BLEU (sacrebleu, exp smoothing; each row split as its reference's script needs),
    0-100."""
    hypotheses, refs = bleu_texts(predictions, references)
    return {"bleu": bleu_metric().corpus_score(hypotheses, [refs]).score}
