"""DIR/report.html of a run group: rows with intervals, ensembles and merges vs the best
member, the merges' verification. Self-contained; every text is escaped (autoescape)."""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import atomic_write_text


def write_report(comparison: dict, out: Path) -> Path:
    from tunesmith.report.templating import html_templates

    env = html_templates("group")
    keys = sorted({k for row in comparison["rows"].values() for k in row["metrics"]})
    best = comparison["best_member"]
    versus_best = [
        c
        for c in comparison["comparisons"]
        if c["a"] == best and comparison["headline"] in c["metrics"]
    ]
    page = env.get_template("report.html.j2").render(
        c=comparison, keys=keys, versus_best=versus_best
    )
    path = out / "report.html"
    atomic_write_text(path, page)
    return path
