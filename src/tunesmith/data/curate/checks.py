"""checks: quality score per row, conflicting duplicates, data-poisoning suspects.

Each check reports by default (findings in the data card) or, with `action: drop`, removes
the rows it flags.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from tunesmith.config.curation import ChecksConfig, ConflictCheck
from tunesmith.data.curate.base import Drop, Splits, StepOutput, register_step
from tunesmith.data.curate.minhash import normalise
from tunesmith.data.curate.poisoning import find_suspects
from tunesmith.data.curate.quality import score_rows
from tunesmith.data.curate.rows import input_text, output_text, preview

MAX_GROUPS_SHOWN = 10


@register_step("checks", "pre", 40, "Quality outliers, conflicting duplicates, poisoning")
def run(splits: Splits, config: ChecksConfig, ctx) -> StepOutput:
    card: dict = {}
    out: Splits = {}
    dropped: list[Drop] = []
    for split, rows in splits.items():
        flags: dict[int, tuple[str, dict]] = {}
        if config.quality is not None:
            _, found, card["quality"] = score_rows(rows, config.quality, ctx)
            _take(flags, found, config.quality.action)
            card["quality"]["action"] = config.quality.action
        if config.conflicts is not None:
            found, card["conflicts"] = find_conflicts(rows, config.conflicts, ctx)
            _take(flags, found, config.conflicts.action)
        if config.poisoning is not None:
            suspects, found = find_suspects(rows, config.poisoning, ctx)
            card["poisoning"] = {
                "action": config.poisoning.action,
                "suspects": suspects,
                "rows_flagged": len(found),
            }
            _take(flags, found, config.poisoning.action)
        out[split] = [r for i, r in enumerate(rows) if i not in flags]
        dropped += [Drop(rows[i], reason, detail) for i, (reason, detail) in sorted(flags.items())]
    stats = {name: _brief(value) for name, value in card.items()}
    return StepOutput(out, dropped, stats, {"checks": card})


def _take(flags: dict, found: dict, action: str) -> None:
    if action == "drop":
        for index, flag in found.items():
            flags.setdefault(index, flag)


def find_conflicts(rows: list[dict], config: ConflictCheck, ctx) -> tuple[dict, dict]:
    """Groups of rows with the same normalised input and more than one distinct output."""
    groups: dict[str, list[int]] = defaultdict(list)
    outputs = [output_text(r, ctx) for r in rows]
    if all(o is None for o in outputs):
        return {}, {"action": config.action, "skipped": "rows have no output to compare"}
    for i, row in enumerate(rows):
        key = normalise(input_text(row, ctx))
        if key:
            groups[key].append(i)
    flags: dict[int, tuple[str, dict]] = {}
    shown = []
    conflicting = 0
    for indices in groups.values():
        counts = Counter(normalise(outputs[i] or "") for i in indices)
        if len(counts) < 2:
            continue
        conflicting += 1
        (top, n_top), (_, n_next) = counts.most_common(2)
        keep = top if n_top > n_next else None
        detail = {"group_size": len(indices), "outputs": len(counts)}
        for i in indices:
            if normalise(outputs[i] or "") != keep:
                flags[i] = ("conflicting_duplicate", detail)
        if len(shown) < MAX_GROUPS_SHOWN:
            shown.append(
                {
                    "rows": [preview(rows[i], ctx.text_fields, 160) for i in indices[:4]],
                    "outputs": dict(counts.most_common(5)),
                }
            )
    report = {
        "action": config.action,
        "groups": conflicting,
        "rows_flagged": len(flags),
        "examples": shown,
    }
    return flags, report


def _brief(section: dict) -> dict:
    return {
        k: v for k, v in section.items() if k not in ("examples", "suspects", "score_histogram")
    }
