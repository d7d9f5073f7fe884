"""Run the configured curation steps in their fixed order and keep the funnel.

Pre-split (all rows): clean -> dedup -> pii -> checks. Post-split: leakage (val/test vs
train) -> balance (train) -> augment (train). The order is each registered step's `order`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tunesmith.config.curation import CurationConfig
from tunesmith.data.curate.base import Drop, Splits, Step, steps_of
from tunesmith.data.curate.funnel import funnel_entry, log_lines, scrub_drops
from tunesmith.data.curate.overlap import split_overlap
from tunesmith.data.curate.rows import content_fields
from tunesmith.data.curate.stats import length_histograms
from tunesmith.errors import UserError


@dataclass
class CurationContext:
    """What steps may need besides the rows; heavy things are loaded lazily."""

    text_fields: list[str]
    label_field: str | None
    seed: int
    load_tokenizer: Callable[[], Any] | None = None
    load_model: Callable[[], Any] | None = None
    log: list[dict] = field(default_factory=list)
    # Card contributions of the pre-split steps, handed on to post_split's card_extra.
    card: dict = field(default_factory=dict)
    # Set by the pii step: anonymises a string (used on rows dropped before pii ran).
    scrub: Callable[[str], str] | None = None


def pre_split(
    examples: list[dict], config: CurationConfig, ctx: CurationContext
) -> tuple[list[dict], list[dict]]:
    """Steps that run on all examples before the split. Returns (examples, funnel)."""
    funnel = [{"step": "load", "rows_in": len(examples), "rows_out": len(examples), "dropped": {}}]
    ctx.card["lengths"] = {"before": length_histograms(examples, ctx.text_fields)}
    splits, entries = _run_phase("pre", {"all": examples}, config, ctx)
    return splits["all"], funnel + entries


def post_split(
    splits: dict[str, list[dict]], config: CurationConfig, ctx: CurationContext
) -> tuple[dict[str, list[dict]], list[dict], dict]:
    """Steps that run after the split (leakage check, balance, augment). (splits, funnel, card)."""
    splits, entries = _run_phase("post", splits, config, ctx)
    card = dict(ctx.card)
    lengths = dict(card.get("lengths") or {})
    every = [row for rows in splits.values() for row in rows]
    lengths["after"] = length_histograms(every, ctx.text_fields, like=lengths.get("before"))
    card["lengths"] = lengths
    card.setdefault("leakage", {"checked": False, "reason": "dedup step is off"})
    # Always, on the final splits: whatever the steps, an evaluation row copied from train.
    card["split_overlap"] = split_overlap(splits, ctx)
    return splits, entries, card


def _run_phase(
    phase: str, splits: Splits, config: CurationConfig, ctx: CurationContext
) -> tuple[Splits, list[dict]]:
    done: list[tuple[Step, int, int, list[Drop], dict, bool]] = []
    for step in steps_of(phase):
        step_config = getattr(config, step.config_key, None)
        if step_config is None:
            continue
        before_pii = ctx.scrub is None
        rows_in = sum(len(rows) for rows in splits.values())
        try:
            out = step.run(splits, step_config, ctx)
        except ModuleNotFoundError as exc:
            raise UserError(
                f"data.curation.{step.config_key}: needs the '{exc.name}' package; install "
                f"the curation extra: pip install 'tunesmith[curation]'"
            ) from None
        splits = out.splits
        rows_out = sum(len(rows) for rows in splits.values())
        _merge(ctx.card, out.card)
        done.append((step, rows_in, rows_out, out.dropped, out.stats, before_pii))
    fields = list(ctx.text_fields) + ([ctx.label_field] if ctx.label_field else [])
    entries = []
    for step, rows_in, rows_out, dropped, stats, before_pii in done:
        if before_pii and ctx.scrub is not None:
            dropped = scrub_drops(dropped, content_fields(ctx), ctx.scrub)
        entries.append(funnel_entry(step.name, rows_in, rows_out, dropped, stats, fields))
        ctx.log.extend(log_lines(step.name, dropped, fields))
    return splits, entries


def _merge(card: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(card.get(key), dict):
            card[key] = {**card[key], **value}
        else:
            card[key] = value
