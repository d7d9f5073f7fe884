"""Each example's own scores, the columns that corpus statistics are resampled from.

ROUGE per example (rouge-score), sentence-level BLEU sufficient statistics (sacrebleu's
counts, summed again into corpus BLEU), generated label and correctness (classification).
ROUGE and BLEU tokenise as metrics/tokenization.py decides (for one example, the same for
every model).
"""

from __future__ import annotations

from tunesmith.metrics.classification import normalize_label
from tunesmith.metrics.tokenization import bleu_metric, bleu_texts, rouge_scorer


def example_scores(
    names: list[str], predictions: list[str], references: list[str], labels=None
) -> list[dict]:
    """One dict of scores per example for the text metrics in `names`."""
    rows: list[dict] = [{} for _ in predictions]
    for name in names:
        scorer = SCORERS.get(name)
        if scorer is not None:
            for row, extra in zip(rows, scorer(predictions, references, labels), strict=True):
                row.update(extra)
    return rows


def _rouge(predictions, references, labels):
    scorer = rouge_scorer(["rouge1", "rouge2", "rougeL"])
    for prediction, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, prediction)
        yield {key: scores[key].fmeasure for key in ("rouge1", "rouge2", "rougeL")}


def _bleu(predictions, references, labels):
    # Each example's tokenizer comes from its reference, which every model's row shares: base
    # and tuned counts are made the same way, so they can be summed, resampled and compared.
    # effective_order: counts are order-independent; this silences a warning
    bleu = bleu_metric(effective_order=True)
    for prediction, ref in zip(*bleu_texts(predictions, references), strict=True):
        s = bleu.sentence_score(prediction, [ref])
        yield {"bleu_stats": [s.sys_len, s.ref_len, *s.counts, *s.totals]}


def _label(predictions, references, labels):
    known = set(labels or [])
    for prediction, ref in zip(predictions, references, strict=True):
        predicted = normalize_label(prediction, labels)
        yield {
            "predicted_label": predicted,
            "valid_label": predicted in known if known else True,
            "correct": float(predicted == ref),
        }


SCORERS = {
    "rouge": _rouge,
    "bleu": _bleu,
    "accuracy": _label,
    "precision": _label,
    "recall": _label,
    "f1": _label,
}
