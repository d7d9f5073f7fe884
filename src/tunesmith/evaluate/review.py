"""The review file of `refine`: failures a person can correct and feed back (CSV)."""

from __future__ import annotations

import csv
from pathlib import Path

from tunesmith.artifacts.spreadsheet import neutralise, restore
from tunesmith.errors import UserError

FIELDS = ("id", "split", "kind", "prompt", "reference", "prediction", "score", "corrected_response")


def write_review(path: Path, errors: dict, split: str) -> int:
    """Worst cases and regressions, once each; `corrected_response` left for the reviewer."""
    seen, rows = set(), []
    for kind in ("worst", "regressions"):
        for case in errors.get(kind, []):
            if case["id"] in seen:
                continue
            seen.add(case["id"])
            rows.append(
                {
                    "id": case["id"],
                    "split": split,
                    "kind": kind,
                    "prompt": case["prompt"],
                    "reference": case["reference"],
                    "prediction": case["tuned"],
                    "score": round(case["score_tuned"], 4),
                    "corrected_response": "",
                }
            )
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        # opened in a spreadsheet to be corrected: untrusted text must not become a formula
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return len(rows)


def _cell(value):
    # a number is never a formula (a negative score stays a number in the spreadsheet)
    return neutralise(value) if isinstance(value, str) else value


def read_review(path: Path) -> list[dict]:
    """The rows a reviewer corrected (non-empty `corrected_response`), ids as written."""
    from tunesmith.data.io import header_delimiter, parse_csv, read_text

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: review file not found")
    text = read_text(path)
    # strict: a bad byte or quote is file:line; the separator is the one a spreadsheet saved
    # the file back with (';' in locales whose decimal mark is a comma)
    rows = parse_csv(path, text, header_delimiter(path, text))
    missing = {"id", "corrected_response"} - set(rows[0] if rows else FIELDS)
    if missing:
        raise UserError(f"{path}: review file lacks column(s) {', '.join(sorted(missing))}")
    # the reviewer's own text is taken as typed; only the id is ours, guarded when written
    return [
        {**r, "id": restore(r["id"])} for r in rows if (r.get("corrected_response") or "").strip()
    ]
