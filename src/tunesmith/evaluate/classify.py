"""Classification by label likelihood: predictions with class probabilities, the probability
metrics, and the binary decision threshold (chosen on validation data only)."""

from __future__ import annotations

from collections import Counter

from tunesmith.config.label_text import label_suggestion
from tunesmith.errors import UserError

# Names that say "the positive class" (compared case-insensitively): a tie in class counts
# goes to one of them, not to the alphabetically first label ('0', 'false', 'negative')
POSITIVE_NAMES = ("1", "true", "yes", "positive", "pos")


def positive_label(
    settings, labels: list[str], train: list[dict], counts: dict | None = None
) -> str | None:
    """The positive class of a binary task: the recipe's, else the rarer training label.

    `counts`: the training split's class counts before curation balanced it (the data card's
    `label_distribution.before`); else counted in `train`, leaving out the copies oversampling
    added: after balancing every class is equally frequent and the rarer class was lost."""
    if len(labels) != 2:
        # a positive_label on a multi-class task used to be ignored without a word
        for key, needs in (
            ("threshold", "a decision threshold"),
            ("positive_label", "a positive class"),
        ):
            if getattr(settings, key) not in (None, False):
                raise UserError(
                    f"evaluation.classification.{key}: {needs} needs a binary task; this one "
                    f"has {len(labels)} labels"
                )
        return None
    if settings.positive_label is not None:
        if settings.positive_label not in labels:
            raise UserError(
                f"evaluation.classification.positive_label: '{settings.positive_label}' is not "
                f"a label ({', '.join(labels)})" + label_suggestion(settings.positive_label, labels)
            )
        return settings.positive_label
    counts = counts or Counter(e.get("label") for e in train if not e.get("oversampled"))
    return min(labels, key=lambda label: (counts.get(label, 0), _not_positive(label), label))


def _not_positive(label: str) -> bool:
    return label.casefold() not in POSITIVE_NAMES


def label_predictions(
    model, tokenizer, examples, labels, max_length, settings, on_example=None
) -> list[dict]:
    """One prediction row per example: most likely label, every label's probability, and
    whether its prompt was cut to fit max_length (`prompt_cut`)."""
    from tunesmith.models.formatting import reference
    from tunesmith.models.label_scoring import label_log_likelihoods, softmax_rows

    scores, cuts = label_log_likelihoods(
        model,
        tokenizer,
        examples,
        labels,
        max_length,
        settings.length_normalization,
        on_example,
    )
    rows = probability_rows(examples, labels, softmax_rows(scores), reference)
    return [{**row, "prompt_cut": cut} for row, cut in zip(rows, cuts, strict=True)]


def probability_rows(examples, labels, probs, reference) -> list[dict]:
    rows = []
    for example, row in zip(examples, probs, strict=True):
        best = max(range(len(labels)), key=lambda k: row[k])
        rows.append(
            {
                "id": example["id"],
                "prompt": example.get("prompt", ""),
                "reference": reference(example),
                "prediction": labels[best],
                "probabilities": {label: round(p, 6) for label, p in zip(labels, row)},
            }
        )
    return rows


def apply_threshold(rows: list[dict], positive: str, threshold: float) -> list[dict]:
    """Re-decide binary predictions at `threshold` on the positive class's probability."""
    labels = list(rows[0]["probabilities"]) if rows else []
    negative = next(label for label in labels if label != positive) if labels else None
    decided = []
    for row in rows:
        chosen = positive if row["probabilities"][positive] >= threshold else negative
        decided.append({**row, "prediction": chosen})
    return decided


def probability_summary(rows: list[dict], labels: list[str], positive: str | None) -> dict:
    """ROC-AUC, PR-AUC, ECE and the reliability curve from saved prediction rows."""
    from tunesmith.metrics.calibration import probability_metrics, reliability_curve

    truth = [r["reference"] for r in rows]
    probs = [[r["probabilities"][label] for label in labels] for r in rows]
    summary = probability_metrics(truth, probs, labels, positive)
    summary["reliability"] = reliability_curve(truth, probs, labels)
    return summary
