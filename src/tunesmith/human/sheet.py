"""A rating sheet as CSV, for raters who work offline: export blind, import validated."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tunesmith.artifacts.spreadsheet import neutralise, restore
from tunesmith.data.io import header_delimiter, parse_csv
from tunesmith.errors import UserError
from tunesmith.human.session import VERDICTS, Session

COLUMNS = ("item", "prompt", "reference", "answer_A", "answer_B", "verdict", "reason")
# The largest sheet the web app takes (the CLI reads a local file of any size): room for
# 2,000 items of 8 KiB each (prompt, reference, two answers), more than anyone rates by hand.
MAX_SHEET_BYTES = 16 * 1024 * 1024


def export_sheet(session: Session, rater: str | None = None) -> str:
    """CSV of the session's items in its blind order (A = left, B = right); no system names.
    With `rater`, items they already rated are left out."""
    done = session.rated_by(rater) if rater else set()
    show = session.settings.get("show_reference", True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for item in session.items():
        if item.id in done:
            continue
        left, right = session.order(item.id)
        row = {
            "item": item.id,
            "prompt": item.prompt,
            "reference": item.reference if show else "",
            "answer_A": item.answers[left],
            "answer_B": item.answers[right],
            "verdict": "",
            "reason": "",
        }
        writer.writerow({column: neutralise(text) for column, text in row.items()})
    return buffer.getvalue()


def import_sheet(session: Session, rater: str, text: str, source: str = "sheet") -> int:
    """Append the sheet's filled-in rows as `rater`'s ratings; returns how many.
    Every row is checked first, so a bad sheet stores nothing."""
    # A spreadsheet saves the sheet back with its locale's separator (';' where the decimal
    # mark is a comma): read the one its header shows, as data files are read
    delimiter = header_delimiter(Path(source), text)
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    missing = [c for c in ("item", "verdict") if c not in header]
    if missing:
        raise UserError(f"{source}: missing column(s) {', '.join(missing)}")
    # Read as strictly as data files: a quote never closed would otherwise swallow the rows
    # after it into one reason, and their ratings would be lost without a word.
    table = parse_csv(Path(source), text, delimiter)
    known = {item.id for item in session.items()}
    rows = []
    for row in table:
        line = row["_line"]
        verdict = (row.get("verdict") or "").strip()
        if not verdict:
            continue  # not rated yet
        if verdict not in VERDICTS:
            raise UserError(f"{source}:{line}: verdict {verdict!r} is not one of {VERDICTS}")
        item = restore(row["item"])  # the id as exported, before its `'` guard
        if item not in known:
            raise UserError(f"{source}:{line}: item {row['item']!r} is not in the session")
        rows.append((item, verdict, (row.get("reason") or "").strip()))
    for item, verdict, reason in rows:
        session.rate(rater, item, verdict, reason)
    return len(rows)
