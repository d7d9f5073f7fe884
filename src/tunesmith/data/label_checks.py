"""Classification sanity after the split: a model needs two classes to learn a boundary, and a
test label never seen in training can only be guessed, so it is reported."""

from __future__ import annotations

from collections import Counter

from tunesmith.errors import UserError


def check_labels(splits: dict[str, list[dict]], source: str) -> list[str]:
    """Warnings (test/val labels unseen in training); an error when train has < 2 classes."""
    train = Counter(e["label"] for e in splits.get("train", []))
    if len(train) < 2:
        only = f" (only '{next(iter(train))}')" if train else ""
        raise UserError(
            f"{source}: the classification training split has {len(train)} class{only}; "
            "at least two are needed (data.output_field holds the label)"
        )
    warnings = []
    for name in ("val", "test"):
        unseen = Counter(e["label"] for e in splits.get(name, []) if e["label"] not in train)
        if unseen:
            counts = ", ".join(f"'{label}': {n}" for label, n in unseen.most_common(5))
            warnings.append(
                f"{sum(unseen.values())} {name} examples have labels never seen in training "
                f"({counts}); the model cannot learn them"
            )
    return warnings + _case_twins(splits)


def _case_twins(splits: dict[str, list[dict]]) -> list[str]:
    """Labels equal but for letter case ('perl' / 'Perl') are separate classes: often one class
    written two ways, which splits its examples and its metrics; said, not merged."""
    labels = {str(e["label"]) for rows in splits.values() for e in rows}
    by_folded: dict[str, list[str]] = {}
    for label in sorted(labels):
        by_folded.setdefault(label.casefold(), []).append(label)
    twins = [names for names in by_folded.values() if len(names) > 1]
    if not twins:
        return []
    shown = "; ".join(" / ".join(f"'{n}'" for n in names) for names in twins[:5])
    return [f"labels that differ only in letter case are separate classes: {shown}"]
