"""Accuracy and macro precision / recall / F1 (scikit-learn) on generated labels."""

from __future__ import annotations

from tunesmith.metrics.registry import METRICS

# Wrapping a model puts around an answer: quotes, Markdown emphasis, a closing full stop
WRAPPING = "\"'`*_.,;:!?()[]{}"


def normalize_label(text: str, labels: list[str] | None) -> str:
    """The generated text as a label: first line, trimmed, matched case-insensitively; else
    matched once the wrapping (quotes, `**bold**`, a full stop) is stripped from both sides,
    when that names one label. A model answering `Positive.` or `"positive"` named the class;
    it used to count as no label at all."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    for label in labels or []:
        if first.casefold() == label.casefold():
            return label
    bare = _bare(first)
    matches = [label for label in labels or [] if bare and _bare(label) == bare]
    return matches[0] if len(matches) == 1 else first


def _bare(text: str) -> str:
    return text.strip(WRAPPING + " \t").casefold()


def _pairs(predictions, references, labels):
    return [normalize_label(p, labels) for p in predictions], list(references)


@METRICS.register("accuracy")
def accuracy(predictions, references, labels=None, **_) -> dict[str, float]:
    from sklearn.metrics import accuracy_score

    predicted, truth = _pairs(predictions, references, labels)
    return {"accuracy": float(accuracy_score(truth, predicted))}


def _macro(predictions, references, labels, which: str) -> dict[str, float]:
    from sklearn.metrics import precision_recall_fscore_support

    predicted, truth = _pairs(predictions, references, labels)
    # the known labels this sample measures (true or predicted): see stats.vectorised.macro_prf
    seen = set(truth) | set(predicted)
    classes = [label for label in sorted(set(labels or truth)) if label in seen]
    p, r, f, _ = precision_recall_fscore_support(
        truth, predicted, labels=classes, average="macro", zero_division=0
    )
    return {which: float({"precision": p, "recall": r, "f1": f}[which])}


@METRICS.register("precision")
def precision(predictions, references, labels=None, **_):
    return _macro(predictions, references, labels, "precision")


@METRICS.register("recall")
def recall(predictions, references, labels=None, **_):
    return _macro(predictions, references, labels, "recall")


@METRICS.register("f1")
def f1(predictions, references, labels=None, **_):
    return _macro(predictions, references, labels, "f1")
