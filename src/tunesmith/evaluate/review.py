"""The review file of `refine`: failures a person can correct and feed back (CSV)."""

from __future__ import annotations

import csv
from pathlib import Path

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
        writer.writerows(rows)
    return len(rows)


def read_review(path: Path) -> list[dict]:
    """The rows a reviewer corrected (non-empty `corrected_response`)."""
    if not Path(path).is_file():
        raise UserError(f"{path}: review file not found")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "corrected_response"} - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"{path}: review file lacks column(s) {', '.join(sorted(missing))}")
        return [r for r in reader if (r.get("corrected_response") or "").strip()]
