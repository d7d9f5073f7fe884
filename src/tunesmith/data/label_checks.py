"""Classification sanity after the split: a model needs two classes to learn a boundary, and a
test label never seen in training can only be guessed, so it is reported."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter

from tunesmith.config.label_text import label_suggestion
from tunesmith.errors import UserError

SHOWN = 5  # labels named in one message; the rest are counted


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
            warnings.append(
                f"{sum(unseen.values())} {name} examples have labels never seen in training "
                f"({_counted(unseen.most_common())}); the model cannot learn them"
            )
    return warnings + _untested(train, splits.get("test", [])) + _case_twins(splits)


def _untested(train: Counter, test: list[dict]) -> list[str]:
    """Training classes with no test example: the test metrics cannot measure them (a class
    with one or two rows stays in training, and a given test file may lack one), yet the
    evaluation said nothing and its macro averages were read as covering every class."""
    tested = {e["label"] for e in test}
    missing = [label for label, _ in train.most_common() if label not in tested]
    if not test or not missing:
        return []
    return [
        f"{len(missing)} of {len(train)} training classes have no test example (training "
        f"rows: {_counted([(label, train[label]) for label in missing])}); the test metrics do "
        "not measure them (macro averages are over the classes the test split has or the model "
        "predicts)"
    ]


def _counted(pairs: list[tuple[str, int]]) -> str:
    """'a': 3, 'b': 1 ... and N more: labels with their counts, the first SHOWN of them."""
    more = f" and {len(pairs) - SHOWN} more" if len(pairs) > SHOWN else ""
    return ", ".join(f"'{label}': {n}" for label, n in pairs[:SHOWN]) + more


def _case_twins(splits: dict[str, list[dict]]) -> list[str]:
    """Labels equal but for letter case ('perl' / 'Perl'), inner spacing ('very good' /
    'very  good') or Unicode form (a precomposed 'é' / 'e' + combining accent, as different
    tools write it) are separate classes: often one class written two ways, which splits its
    examples and its metrics; said, with the data.label_map entry that would merge the first
    pair into its commoner spelling, not merged."""
    counts = Counter(str(e["label"]) for rows in splits.values() for e in rows)
    by_folded: dict[str, list[str]] = {}
    for label in sorted(counts):
        by_folded.setdefault(_folded(label), []).append(label)
    twins = [names for names in by_folded.values() if len(names) > 1]
    if not twins:
        return []
    shown = "; ".join(" / ".join(_shown(n) for n in names) for names in twins[:5])
    common, rare = sorted(twins[0], key=lambda n: -counts[n])[:2]
    return [
        "labels that differ only in letter case, spacing or Unicode form are separate classes: "
        f"{shown} (data.label_map merges them: {{{_quoted(rare)}: {_quoted(common)}}})"
    ]


def _quoted(label: str) -> str:
    """A label as a YAML flow mapping reads it back: JSON's quoting, with escapes for what
    does not print as itself (a combining accent), which YAML's double quotes read."""
    return json.dumps(label)


def _folded(label: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", label).casefold().split())


def _shown(label: str) -> str:
    """'label', with its escapes when it is not in Unicode's composed form: two spellings of
    'café' print alike, and the message must show what differs."""
    if unicodedata.is_normalized("NFC", label):
        return f"'{label}'"
    return f"'{label}' ({ascii(label)})"


def label_warnings(data, splits: dict[str, list[dict]]) -> list[str]:
    """Every label check of a classification recipe's `data` section against its splits (the
    data stage and `validate` both say these): data.labels and data.label_map against the labels
    found, then the classes' spread over the splits and their spellings."""
    return (
        check_declared(data.labels, splits)
        + check_label_map(data.label_map, splits)
        + check_labels(splits, data.train)
    )


def check_declared(declared: list[str] | None, splits: dict[str, list[dict]]) -> list[str]:
    """`data.labels` against the labels the data has: a data label it does not list is an
    error (the model learns a class the evaluation cannot score: scikit-learn then fails, or
    every example of it counts as wrong); a listed label the data never has is a warning (a rare
    class a sample can miss is legitimate)."""
    if not declared:
        return []
    seen = Counter(e["label"] for rows in splits.values() for e in rows)
    unlisted = [label for label, _ in seen.most_common() if label not in declared]
    unseen = [label for label in declared if label not in seen]
    # the did-you-mean sits on data.labels' side: that is the list the user edits
    never = f"data.labels lists labels the data never has: {_named(unseen, unlisted)}"
    if unlisted:
        raise UserError(
            f"data.labels: the data has labels data.labels does not list: {_named(unlisted)}"
            + (f"; {never}" if unseen else "")
        )
    return [never] if unseen else []


def check_label_map(label_map: dict[str, str] | None, splits: dict[str, list[dict]]) -> list[str]:
    """A data.label_map entry whose label no split has: its key never matched a record's label
    (a misspelt key, or `'1'` against data labelled `positive` already)."""
    if not label_map:
        return []
    seen = {e["label"] for rows in splits.values() for e in rows}
    unused = [key for key, label in label_map.items() if label not in seen]
    if not unused:
        return []
    return [f"data.label_map: no record has the label {_named(unused, sorted(seen))}"]


def _named(labels: list[str], choices: list[str] | None = None) -> str:
    """'a', 'b' (did you mean 'B'?), ... and N more: a did-you-mean for a case or spelling twin."""
    parts = [
        f"'{label}'" + (label_suggestion(label, choices) if choices else "") for label in labels
    ]
    more = f" and {len(parts) - SHOWN} more" if len(parts) > SHOWN else ""
    return ", ".join(parts[:SHOWN]) + more
