"""Each example's own scores, the columns that corpus statistics are resampled from.

ROUGE per example (rouge-score), sentence-level BLEU sufficient statistics (sacrebleu's
counts, summed again into corpus BLEU), generated label and correctness (classification).
ROUGE and BLEU tokenise as metrics/tokenization.py decides (for one example, the same for
every model).
"""

from __future__ import annotations

from tunesmith.metrics.classification import normalize_label
from tunesmith.metrics.tokenization import bleu_metric, bleu_texts, is_current, rouge_scorer


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


# The per-example scores that depend on how text is tokenised, by the metric that makes them.
TOKENISED = {"rouge": ("rouge1", "rouge2", "rougeL"), "bleu": ("bleu_stats",)}


def tokenised_metrics(rows: list[dict]) -> list[str]:
    """The metrics (rouge, bleu) whose per-example scores prediction `rows` hold."""
    present = set(rows[0].get("scores", {})) if rows else set()
    return [name for name, keys in TOKENISED.items() if present.issuperset(keys)]


def scored_now(rows: list[dict], record: dict | None) -> list[dict] | None:
    """`rows` with ROUGE and BLEU as this code tokenises them: as they are when their
    evaluation's `record` (metrics.json 'tokenization') is this code's or they hold neither;
    else computed again from each row's saved answer and reference; None when a row lacks them."""
    if not tokenised_metrics(rows) or is_current(record):
        return rows
    if not all(isinstance(r.get(k), str) for r in rows for k in ("prediction", "reference")):
        return None
    predictions = [r["prediction"] for r in rows]
    scores = example_scores(tokenised_metrics(rows), predictions, [r["reference"] for r in rows])
    return [{**r, "scores": {**r["scores"], **s}} for r, s in zip(rows, scores, strict=True)]


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
