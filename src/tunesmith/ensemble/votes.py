"""Classification ensembles: majority vote and probability-averaged vote over the members."""

from __future__ import annotations

from collections import Counter

from tunesmith.ensemble.methods import Choice, EnsembleInputs, EnsembleMethod, register_ensemble


def _labelled(spec) -> bool:
    return spec.has_label


def _with_probabilities(inputs: EnsembleInputs) -> bool:
    # label-likelihood scoring writes every label's probability; generated labels have none
    return all("probabilities" in rows[0] for rows in inputs.rows if rows)


def _voted_label(row: dict) -> str:
    return row["scores"].get("predicted_label", row["prediction"])


def majority(inputs: EnsembleInputs) -> list[Choice]:
    """The most frequent label; a tie goes to the tied label of highest mean probability
    when probabilities exist, else to the first tied label in label order (deterministic)."""
    order = {label: k for k, label in enumerate(inputs.labels or [])}
    choices = []
    for per_member in zip(*inputs.rows, strict=True):
        votes = Counter(_voted_label(r) for r in per_member)
        top = max(votes.values())
        tied = [label for label, n in votes.items() if n == top]
        mean = _mean_probabilities(per_member)
        if mean:
            winner = max(tied, key=lambda label: (mean.get(label, 0.0), -order.get(label, 0)))
        else:
            winner = min(tied, key=lambda label: order.get(label, len(order)))
        choices.append(Choice(winner))
    return choices


def probability(inputs: EnsembleInputs) -> list[Choice]:
    """The label of highest probability averaged over the members (soft vote)."""
    choices = []
    for per_member in zip(*inputs.rows, strict=True):
        mean = _mean_probabilities(per_member)
        order = list(mean)
        choices.append(Choice(max(order, key=lambda label: mean[label]), mean))
    return choices


def _mean_probabilities(per_member) -> dict:
    if not all("probabilities" in r for r in per_member):
        return {}
    labels = list(per_member[0]["probabilities"])
    n = len(per_member)
    return {
        label: round(sum(r["probabilities"][label] for r in per_member) / n, 6) for label in labels
    }


register_ensemble(EnsembleMethod("majority", "majority vote", _labelled, majority))
register_ensemble(
    EnsembleMethod(
        "probability",
        "probability-averaged vote",
        _labelled,
        probability,
        _with_probabilities,
        needs_what="label probabilities (evaluation.classification.scoring: likelihood), which",
    )
)
