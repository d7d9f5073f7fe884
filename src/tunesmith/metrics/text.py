"""ROUGE (rouge-score) and BLEU (sacrebleu) for generated text."""

from __future__ import annotations

from tunesmith.metrics.registry import METRICS


@METRICS.register("rouge")
def rouge(predictions: list[str], references: list[str], **_) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 over examples (rouge-score, Porter stemming)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    sums = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, prediction)
        for key in sums:
            sums[key] += scores[key].fmeasure
    n = max(len(predictions), 1)
    return {key: value / n for key, value in sums.items()}


@METRICS.register("bleu")
def bleu(predictions: list[str], references: list[str], **_) -> dict[str, float]:
    """Corpus BLEU (sacrebleu defaults: 13a tokenizer, exp smoothing), 0-100."""
    import sacrebleu

    return {"bleu": sacrebleu.corpus_bleu(predictions, [references]).score}
