"""The data card as a self-contained HTML fragment (inline SVG, no network, no torch)."""

from __future__ import annotations

import json
from html import escape

from tunesmith.report.bars import grouped_bars_svg

STYLE = (
    "<style>.tsdc table{border-collapse:collapse;margin:.4em 0}.tsdc td,.tsdc th{border:1px "
    "solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}.tsdc pre{white-space:"
    "pre-wrap;max-width:60em;margin:0;font-size:11px}.tsdc .note{color:#555}</style>"
)


def render_data_card(card: dict) -> str:
    """HTML for `data/data_card.json`: funnel, lengths, labels, PII, leakage, checks."""
    parts = [STYLE, '<section class="tsdc"><h2>Data card</h2>', _sizes(card.get("sizes", {}))]
    parts += [f"<p><b>warning:</b> {escape(w)}</p>" for w in card.get("warnings", [])]
    parts += [
        funnel_html(card.get("funnel", [])),
        _lengths(card.get("lengths")),
        _labels(card),
        _pii(card.get("pii")),
        leakage_html(card.get("leakage"), DATA_LEAKAGE),
        _overlap(card.get("split_overlap")),
        _checks(card.get("checks")),
        _augment(card.get("augment")),
        "</section>",
    ]
    return "".join(p for p in parts if p)


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _sizes(sizes: dict) -> str:
    if not sizes:
        return ""
    return "<h3>Sizes</h3>" + _table(list(sizes), [[str(v) for v in sizes.values()]])


def funnel_html(funnel: list[dict], title: str = "Curation funnel") -> str:
    """Each curation step's rows in and out, and what it dropped by reason with two examples
    (the data card's rows; the pre-training report's documents)."""
    if not funnel:
        return ""
    rows = []
    for entry in funnel:
        reasons = []
        for reason, count in entry.get("dropped", {}).items():
            examples = entry.get("examples", {}).get(reason, [])
            shown = "".join(
                f"<pre>{escape(json.dumps(e, ensure_ascii=False, indent=1))}</pre>"
                for e in examples
            )
            reasons.append(
                f"<details><summary>{escape(reason)}: {count}</summary>{shown}</details>"
            )
        rows.append(
            [
                escape(entry["step"]),
                str(entry["rows_in"]),
                str(entry["rows_out"]),
                "".join(reasons) or "—",
            ]
        )
    head = ["step", "rows in", "rows out", "dropped by reason (click for two examples)"]
    return f"<h3>{escape(title)}</h3>" + _table(head, rows)


def _lengths(lengths: dict | None) -> str:
    if not lengths or not lengths.get("before"):
        return ""
    before, after = lengths["before"], lengths.get("after") or {}
    parts = [f"<h3>Lengths ({escape(before.get('unit', 'words'))})</h3>"]
    for name, hist in before.get("fields", {}).items():
        edges = hist["edges"]
        labels = [
            f"{edges[i]}" + ("+" if i == len(edges) - 2 else "") for i in range(len(edges) - 1)
        ]
        series = {"before": hist["counts"]}
        later = (after.get("fields") or {}).get(name)
        if later and later.get("edges") == edges:
            series["after"] = later["counts"]
        stats = ", ".join(f"{k} {hist[k]}" for k in ("median", "p95", "max") if k in hist)
        parts.append(f"<p><b>{escape(name)}</b> <span class='note'>before: {stats}</span></p>")
        parts.append(grouped_bars_svg(labels, series))
    return "".join(parts)


def _labels(card: dict) -> str:
    parts = []
    dist = card.get("label_distribution")
    if dist:
        labels = list(dist["before"])
        series = {
            "before": [dist["before"].get(k, 0) for k in labels],
            "after": [dist["after"].get(k, 0) for k in labels],
        }
        parts.append(
            f"<h3>Label distribution (train, {escape(dist['method'])}, target ratio "
            f"{escape(str(dist['target_ratio']))})</h3><p class='note'>{_balance_note(dist)}</p>"
        )
        parts.append(grouped_bars_svg(labels, series))
    weights = card.get("class_weights")
    if weights:
        rows = [[escape(k), str(v)] for k, v in weights.items()]
        parts.append("<h3>Class weights (for the loss)</h3>" + _table(["label", "weight"], rows))
    per_split = card.get("labels")
    if per_split:
        splits = list(per_split)
        names = sorted({label for counts in per_split.values() for label in counts})
        rows = [[escape(n)] + [str(per_split[s].get(n, 0)) for s in splits] for n in names]
        parts.append("<h3>Labels per split</h3>" + _table(["label", *splits], rows))
    return "".join(parts)


def _balance_note(dist: dict) -> str:
    """The class ratios, and the rows balance left as they were: without a label they belong
    to no class (shown, or the counts above would not add up to the split)."""
    note = f"largest:smallest {dist['ratio_before']} before, {dist['ratio_after']} after"
    if "unlabelled" in dist:  # cards written before the count have no such key
        note += f"; rows without a label, kept as they are: {dist['unlabelled']}"
    return escape(note)


def _pii(pii: dict | None) -> str:
    if not pii:
        return ""
    rows = [[escape(k), str(v)] for k, v in pii["counts"].items()]
    offline = ", ".join(pii.get("offline_pattern_recognizers", []))
    return (
        f"<h3>Personal data ({escape(pii['mode'])})</h3>{_table(['entity', 'replaced'], rows)}"
        f"<p class='note'>Detected offline by pattern recognizers: {escape(offline)}. "
        f"Person names: {escape(pii.get('person_names', 'off'))} — "
        f"{escape(pii.get('note', ''))}. Rows changed: {pii.get('rows_changed', 0)}.</p>"
    )


# What the leakage step compares, and its columns' headings by the key counted under each
# split (data/curate/leakage.py); the pre-training stage compares held-out documents only.
DATA_LEAKAGE = "Leakage check (val/test vs train, val vs test, on the input)"
PRETRAIN_LEAKAGE = "Leakage check (held-out documents vs the documents trained on)"
LEAKAGE_COLUMNS = {
    "rows": "rows",
    "exact": "exact in train",
    "near": "near in train",
    "exact_in_test": "exact in test",  # val only: test is not compared with itself
    "near_in_test": "near in test",
}


def leakage_html(leakage: dict | None, title: str) -> str:
    """The leakage step's record: copies found per split, the action and what it dropped."""
    if not leakage:
        return ""
    if not leakage.get("checked"):
        return f"<h3>Leakage check</h3><p>not run ({escape(leakage.get('reason', ''))})</p>"
    found = leakage["found"]
    keys = [k for k in LEAKAGE_COLUMNS if any(k in f for f in found.values())]
    rows = [[escape(s), *(str(f.get(k, "—")) for k in keys)] for s, f in found.items()]
    head = ["split", *(LEAKAGE_COLUMNS[k] for k in keys)]
    verdict = "no leakage remains" if leakage.get("clean_after") else "LEAKAGE REMAINS"
    return (
        f"<h3>{escape(title)}</h3>"
        f"{_table(head, rows)}"
        f"<p>action: {escape(leakage['action'])}; dropped {leakage['dropped']}; "
        f"<b>{verdict}</b></p>"
    )


def _overlap(overlap: dict | None) -> str:
    if not overlap or not overlap.get("found"):
        return ""
    keys = ["rows", "in_train", "in_test"]  # in_test: validation only
    rows = [[escape(s), *(str(c.get(k, "—")) for k in keys)] for s, c in overlap["found"].items()]
    return (
        "<h3>Exact copies of training rows, and of test rows in val (input and output; always "
        "checked)</h3>"
        f"{_table(['split', 'rows', 'copies of training rows', 'copies of test rows'], rows)}"
    )


def _checks(checks: dict | None) -> str:
    if not checks:
        return ""
    parts = ["<h3>Checks</h3>"]
    quality = checks.get("quality")
    if quality:
        parts.append(
            f"<p>Quality: mean score {quality.get('mean_score')}; outliers "
            f"{escape(json.dumps(quality.get('flagged', {})))} "
            f"({escape(str(quality['action']))})</p>"
        )
    conflicts = checks.get("conflicts")
    if conflicts:
        parts.append(
            f"<p>Conflicting duplicates: {conflicts.get('groups', 0)} groups, "
            f"{conflicts.get('rows_flagged', 0)} rows ({escape(str(conflicts['action']))})</p>"
        )
    poisoning = checks.get("poisoning")
    if poisoning:
        rows = [
            [
                escape(s["ngram"]),
                str(s["rows"]),
                escape(s["output"]),
                str(s["purity"]),
                f"{s['p_value']:.1e}",
            ]
            for s in poisoning.get("suspects", [])
        ]
        parts.append(
            f"<p>Data-poisoning suspects ({escape(str(poisoning['action']))}): {len(rows)}</p>"
        )
        if rows:
            parts.append(_table(["n-gram", "rows", "output", "purity", "p"], rows))
    return "".join(parts)


def _augment(augment: dict | None) -> str:
    if not augment:
        return ""
    added = ", ".join(f"{k}: {v}" for k, v in augment.get("added", {}).items()) or "none"
    skipped = "".join(
        f"<li>{escape(k)}: {escape(v)}</li>" for k, v in augment.get("skipped", {}).items()
    )
    rejected = ", ".join(
        f"{method}: "
        + ", ".join(f"{n} {reason.removeprefix('augment_')}" for reason, n in r.items())
        for method, r in augment.get("rejected", {}).items()
    )
    return (
        f"<h3>Augmentation (train only)</h3><p>added {escape(added)} from "
        f"{augment.get('rows_selected', 0)} rows"
        + (f"; rejected by the fidelity filter: {escape(rejected)}" if rejected else "")
        + "</p>"
        + (f"<ul>{skipped}</ul>" if skipped else "")
    )
