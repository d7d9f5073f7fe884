"""`tunesmith human summary RUN`: every session's figures -> eval/human.json (and the report)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from tunesmith.artifacts import write_json
from tunesmith.human.session import Session, list_sessions
from tunesmith.human.stats import summarize


def run_summary(run_root: Path) -> dict:
    """Figures per session, and pooled per pair of systems (sessions rating the same pair)."""
    sessions, pooled = {}, {}
    for name in list_sessions(run_root):
        session = Session(run_root, name)
        ratings = session.ratings()
        sessions[name] = summarize(ratings, session.systems)
        pooled.setdefault(session.systems, []).extend(
            {**r, "item": f"{session.settings['split']}/{r['item']}"} for r in ratings
        )
    comparisons = [
        {**summarize(ratings, systems), "label": f"{systems[0]} vs {systems[1]}"}
        for systems, ratings in pooled.items()
    ]
    return {
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "comparisons": comparisons,
        "sessions": sessions,
    }


def write_summary(run_root: Path) -> tuple[Path, dict]:
    """Write eval/human.json; re-render the report when the run has one, so it shows them."""
    summary = run_summary(run_root)
    out = Path(run_root) / "eval" / "human.json"
    write_json(out, summary)
    from tunesmith.report.html import refresh_report

    refresh_report(Path(run_root))
    return out, summary
