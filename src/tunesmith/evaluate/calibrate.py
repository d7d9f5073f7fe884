"""Classification probabilities in the comparison: ROC/PR-AUC, calibration, the threshold.

Rows scored by label likelihood (and the classic baseline) carry per-label probabilities;
this module turns them into compare.json's `probabilities` section and, for binary tasks, a
decision threshold chosen on the validation split (never the test split).
"""

from __future__ import annotations

from tunesmith.artifacts import read_jsonl
from tunesmith.artifacts.files import read_json

# The deployed model is the one whose threshold matters; base rows compete at the argmax.
THRESHOLD_ROWS = ("tuned",)
# Fewer positive validation rows than this: the threshold fits those few rows (one positive
# row of twenty put it at 0.00001 and the tuned_threshold row called every test row positive)
FEW_POSITIVES = 5


def _positive(recipe, run_dir, labels):
    from tunesmith.evaluate.classify import positive_label

    train = read_jsonl(run_dir.data / "train.jsonl")
    counts = _counts_before_balance(run_dir)
    return positive_label(recipe.evaluation.classification, labels, train, counts)


def _counts_before_balance(run_dir) -> dict | None:
    """The training split's class counts before `data.curation.balance` (the data card's),
    None when nothing balanced it: undersampling leaves equal classes and no trace in the rows,
    so the rarer class (the default positive one) is known only from the card."""
    card = run_dir.data / "data_card.json"
    if not card.is_file():
        return None
    return read_json(card).get("label_distribution", {}).get("before")


def decision_threshold(recipe, run_dir, row_name, model, tokenizer, rows, labels, split):
    """(test rows re-decided at the validation-chosen threshold, their label, the record of
    how it was chosen: `threshold_record`) or None."""
    settings = recipe.evaluation.classification
    applies = (
        split == "test"
        and row_name in THRESHOLD_ROWS
        and labels is not None
        and len(labels) == 2
        and settings.threshold is not False
        and settings.scoring == "likelihood"
    )
    val_path = run_dir.data / "val.jsonl"
    if not applies or not val_path.is_file():
        return None
    from tunesmith.evaluate.classify import apply_threshold, label_predictions
    from tunesmith.metrics.calibration import best_threshold
    from tunesmith.metrics.per_example import example_scores

    positive = _positive(recipe, run_dir, labels)
    available = read_jsonl(val_path)
    val = available[: recipe.training.val_max_examples]
    if not val:
        return None
    scored = label_predictions(
        model, tokenizer, val, labels, recipe.training.max_seq_length, settings
    )
    cuts = _say_cuts(scored, recipe.training.max_seq_length)
    cut, f1 = best_threshold(
        [e["label"] for e in val], [r["probabilities"][positive] for r in scored], positive
    )
    decided = apply_threshold(rows, positive, cut)
    rescored = example_scores(
        ["accuracy"], [r["prediction"] for r in decided], [r["reference"] for r in decided], labels
    )
    for row, extra in zip(decided, rescored, strict=True):
        row["scores"] = {**row["scores"], **extra, "threshold": cut}
    label = f"tuned model, '{positive}' threshold {cut:.3f} (from {len(val)} val)"
    record = threshold_record(row_name, positive, cut, f1, val, len(available), cuts)
    _say_few_positives(record)
    return decided, label, record


def threshold_record(row_name, positive, cut, f1, val, available, cuts) -> dict:
    """compare.json's `thresholds.<row>_threshold`: the cut-off, the validation rows it was
    chosen on (the first training.val_max_examples of data/val.jsonl) and the positive class's
    F1 it reached there (None when they hold no positive row), how many of them are positive,
    what max_seq_length cut in them."""
    return {
        "row": row_name,
        "positive_label": positive,
        "threshold": cut,
        "criterion": "f1 of the positive label",
        "validation": {
            "split": "val",
            "rows": len(val),
            "available": available,
            "ids": [e["id"] for e in val],
            "f1": f1,
            "positives": sum(e["label"] == positive for e in val),
            "truncation": cuts,
        },
    }


def _say_few_positives(record: dict) -> None:
    """A threshold chosen on fewer than FEW_POSITIVES positive validation rows, said once: it
    can turn the tuned_threshold row far worse than the tuned row on the test split."""
    from tunesmith.models.truncation import warn

    val = record["validation"]
    if val["positives"] < FEW_POSITIVES:
        warn(
            f"evaluation (tuned threshold): {val['positives']} of the {val['rows']} validation "
            f"rows are '{record['positive_label']}'; a threshold chosen on so few positive rows "
            "is noise (give more validation data, or threshold: false)"
        )


def _say_cuts(scored: list[dict], max_length: int) -> dict:
    """The validation prompts cut to fit (the threshold is chosen on them), counted for the
    threshold's record and said once, like the test rows' cuts in compare.json's `truncation`."""
    from tunesmith.models.truncation import mark_cuts, marked_cuts, marked_warning, warn

    mark_cuts(scored, [row["prompt_cut"] for row in scored], "prompt")
    counts = marked_cuts(scored)
    what = "evaluation (tuned threshold, validation rows)"
    warn(marked_warning(what, counts, len(scored), max_length))
    return counts


def probability_section(recipe, run_dir, predictions: dict, labels, labels_of: dict) -> dict:
    """{'probabilities': {row: ROC/PR-AUC, ECE, reliability}} for rows with probabilities."""
    from tunesmith.evaluate.classify import probability_summary

    if not labels:
        return {}
    positive = _positive(recipe, run_dir, labels)
    section = {}
    for name, rows in predictions.items():
        if rows and "probabilities" in rows[0]:
            section[name] = {
                "label": labels_of.get(name, name),
                **probability_summary(rows, labels, positive),
            }
    return {"probabilities": section, "positive_label": positive} if section else {}
