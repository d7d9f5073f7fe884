"""The recipe's labels (one definition for every scorer), and classification error analysis:
scikit-learn's per-class report, confusion matrix, and the rate of generated answers that are
no known label at all."""

from __future__ import annotations

INVALID = "(not a label)"


def recipe_labels(recipe, run_dir) -> list[str] | None:
    """The labels a run scores against: data.labels, else those seen in its training split
    (the documented default); None for a task without labels.

    Why one function: the evaluate stage, the checks and the search's val_metric objective
    must agree, or label-likelihood scoring silently becomes free generation in one of them.
    """
    from tunesmith.artifacts import read_jsonl
    from tunesmith.config.tasks import task_spec

    if not task_spec(recipe.task).has_label:
        return None
    return labels_of(recipe, read_jsonl(run_dir.data / "train.jsonl"))


def labels_of(recipe, train: list[dict]) -> list[str]:
    """data.labels, else the labels seen in the training rows `train`, sorted."""
    return recipe.data.labels or sorted({e["label"] for e in train if "label" in e})


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
