"""Rich tables for `tunesmith data curate` and `tunesmith data inspect`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

out = Console()


def print_funnel(card: dict) -> None:
    table = Table(title="curation funnel")
    for column in ("step", "rows in", "rows out", "dropped (reason: rows)"):
        table.add_column(column, justify="right" if column.startswith("rows") else "left")
    for entry in card.get("funnel", []):
        reasons = ", ".join(f"{k}: {v}" for k, v in entry.get("dropped", {}).items())
        table.add_row(entry["step"], str(entry["rows_in"]), str(entry["rows_out"]), reasons)
    out.print(table)
    pii = card.get("pii")
    if pii:
        counts = ", ".join(f"{k}: {v}" for k, v in pii["counts"].items())
        out.print(f"pii ({pii['mode']}, person names: {pii['person_names']}): {counts}")
    leakage = card.get("leakage")
    if leakage and leakage.get("checked"):
        out.print(
            f"leakage: {leakage['leaking_rows']} val/test rows found in train or val rows "
            f"in test, {leakage['dropped']} dropped"
        )
    for method, notice in (card.get("augment") or {}).get("skipped", {}).items():
        out.print(f"augment {method}: {notice}")


def print_inspection(path: Path, report: dict) -> None:
    out.print(f"[bold]{path}[/bold]: {report['rows']} rows")
    table = Table(title="text fields (words)")
    for column in ("field", "empty", "min", "median", "mean", "p95", "max"):
        table.add_column(column, justify="left" if column == "field" else "right")
    for name, s in report["fields"].items():
        table.add_row(
            name, *(str(s.get(k, "")) for k in ("empty", "min", "median", "mean", "p95", "max"))
        )
    out.print(table)
    dups = report["duplicates"]
    out.print(
        f"duplicates: {dups['exact']} exact, {dups['near']} near (Jaccard >= {dups['threshold']})"
    )
    if "labels" in report:
        counts = [f"{k}: {v}" for k, v in report["labels"].items()]
        if report.get("labels_missing"):
            counts.append(f"(missing): {report['labels_missing']}")
        out.print("labels: " + (", ".join(counts) or "none"))
    if "pii" in report:
        counts = report["pii"]["counts"]
        shown = ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none found"
        out.print(f"pii ({report['pii']['person_names']} for names): {shown}")
    checks = report["checks"]
    quality = checks.get("quality", {})
    out.print(
        f"quality: mean score {quality.get('mean_score')}, outliers "
        f"{quality.get('flagged') or 'none'}"
    )
    conflicts = checks.get("conflicts", {})
    out.print(f"conflicting duplicates: {conflicts.get('groups', conflicts.get('skipped'))}")
    suspects = checks.get("poisoning", {}).get("suspects", [])
    out.print(f"poisoning suspects: {len(suspects)}")
    for s in suspects[:10]:
        out.print(
            f"  '{s['ngram']}' in {s['rows']} rows -> '{s['output']}' "
            f"(purity {s['purity']}, p={s['p_value']:.1e})"
        )
