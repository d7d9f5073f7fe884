"""Funnel entries for the data card and lines for data/curation_log.jsonl."""

from __future__ import annotations

from collections import Counter

from tunesmith.data.curate.base import Drop
from tunesmith.data.curate.rows import map_text, preview, texts_of

EXAMPLES_PER_REASON = 2
LOG_PREVIEW_CHARS = 200


def funnel_entry(
    step: str, rows_in: int, rows_out: int, dropped: list[Drop], stats: dict, fields: list[str]
) -> dict:
    """{"step", "rows_in", "rows_out", "dropped": {reason: n}, "examples": {reason: [..]}}."""
    examples: dict[str, list[dict]] = {}
    for drop in dropped:
        shown = examples.setdefault(drop.reason, [])
        if len(shown) < EXAMPLES_PER_REASON:
            shown.append({**preview(drop.row, fields), **_small(drop.detail)})
    return {
        "step": step,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "dropped": dict(Counter(d.reason for d in dropped).most_common()),
        "examples": examples,
        "stats": stats,
    }


def log_lines(step: str, dropped: list[Drop], fields: list[str]) -> list[dict]:
    lines = []
    for drop in dropped:
        text = "\n".join(
            " | ".join(texts_of(v))
            for k, v in preview(drop.row, fields, LOG_PREVIEW_CHARS).items()
            if k in fields
        )
        lines.append(
            {
                "step": step,
                "reason": drop.reason,
                "id": drop.row.get("id"),
                **drop.detail,
                "preview": text,
            }
        )
    return lines


def scrub_drops(dropped: list[Drop], fields: list[str], scrub) -> list[Drop]:
    """Anonymise rows that were dropped before the pii step ran (they reach the card/log)."""
    return [Drop(map_text(d.row, fields, scrub), d.reason, d.detail) for d in dropped]


def _small(detail: dict) -> dict:
    return {k: v for k, v in detail.items() if not isinstance(v, (dict, list)) or len(v) < 8}
