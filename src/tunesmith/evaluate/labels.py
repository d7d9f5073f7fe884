"""Classification error analysis: scikit-learn's per-class report, confusion matrix, and the
rate of generated answers that are no known label at all."""

from __future__ import annotations

INVALID = "(not a label)"


def label_analysis(predictions: dict[str, list[dict]], labels: list[str]) -> dict:
    from sklearn.metrics import classification_report, confusion_matrix

    out: dict = {"labels": list(labels), "rows": {}}
    for name, rows in predictions.items():
        truth = [r["reference"] for r in rows]
        guessed = [_as_label(r["scores"]["predicted_label"], labels) for r in rows]
        report = classification_report(
            truth, guessed, labels=list(labels), output_dict=True, zero_division=0
        )
        matrix = confusion_matrix(truth, guessed, labels=[*labels, INVALID])
        out["rows"][name] = {
            "per_class": {label: report[label] for label in labels},
            "confusion": {"labels": [*labels, INVALID], "matrix": matrix[: len(labels)].tolist()},
            "invalid_rate": sum(g == INVALID for g in guessed) / max(len(guessed), 1),
        }
    return out


def _as_label(predicted: str, labels: list[str]) -> str:
    return predicted if predicted in labels else INVALID
