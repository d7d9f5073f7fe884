"""augment: add augmented copies of training rows (marked "augmented": true; train split only).

Only the input side is rewritten (prompt, user turns, or completion text): noise in a target
would teach the model to produce noise. Methods are registered in AUGMENTERS; a method that
cannot run here (no model, no WordNet) is skipped with a notice in the card. Model-written
rows pass the fidelity filter (augment_fidelity.py); the rejected ones are this step's drops
(counted in the funnel and data card, listed in curation_log.jsonl).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from tunesmith.config.curation import AugmentConfig
from tunesmith.data.curate.base import Drop, Splits, StepOutput, register_step
from tunesmith.data.curate.rows import collect_texts, input_fields, replace_texts
from tunesmith.registry import Registry

# name -> factory(config, ctx) returning `texts -> texts (None = failed)` or a skip notice.
Augmenter = Callable[[list[str]], list["str | None"]]
AUGMENTERS: Registry[Callable[[AugmentConfig, object], Augmenter | str]] = Registry("augmentation")
INPUT_ROLES = ("user",)
FAILED = "\x00augment-failed\x00"  # stands in for a text the augmenter could not change


@register_step("augment", "post", 30, "Paraphrase, back-translate, noise, synonyms (train only)")
def run(splits: Splits, config: AugmentConfig, ctx) -> StepOutput:
    from tunesmith.data.curate import augment_model, augment_noise, augment_translate  # noqa: F401

    train = splits.get("train", [])
    originals = [r for r in train if not r.get("augmented") and not r.get("oversampled")]
    rng = random.Random(ctx.seed)
    chosen = rng.sample(originals, k=round(len(originals) * config.fraction))
    fields = input_fields(ctx)
    screen = _screen(config, ctx, fields, originals)
    added: Counter = Counter()
    skipped: dict[str, str] = {}
    new_rows: list[dict] = []
    rejected: list[Drop] = []
    for method in config.methods:
        made = AUGMENTERS.get(method)(config, ctx)
        if isinstance(made, str):
            skipped[method] = made
            continue
        for copy in range(config.copies):
            pairs = [
                (old, {**new, "id": f"{old['id']}-aug-{method}-{copy}", **_marks(method)})
                for old, new in augment_rows(chosen, fields, made)
            ]
            kept = [new for _, new in pairs]
            if screen is not None and screen.applies(method):
                kept, drops = screen.run(pairs, method)
                rejected += drops
            new_rows += kept
            added[method] += len(kept)
    card = {"augment": {**_counts(chosen, added, skipped, rejected), "fields": fields}}
    stats = {"added": dict(added), "skipped": skipped, "rejected": card["augment"]["rejected"]}
    return StepOutput({**splits, "train": train + new_rows}, rejected, stats, card)


def _marks(method: str) -> dict:
    return {"augmented": True, "augment_method": method}


def _screen(config: AugmentConfig, ctx, fields: list[str], originals: list[dict]):
    from tunesmith.data.curate.augment_fidelity import Screen

    if config.fidelity is None:
        return None
    return Screen(config.fidelity, fields, INPUT_ROLES, originals, ctx.label_field, ctx.seed)


def _counts(chosen, added: Counter, skipped: dict, rejected: list[Drop]) -> dict:
    """The card's counts: rows selected, added and rejected (by method and reason)."""
    by_method: dict[str, dict[str, int]] = {}
    for drop in rejected:
        reasons = by_method.setdefault(drop.detail["method"], {})
        reasons[drop.reason] = reasons.get(drop.reason, 0) + 1
    return {
        "rows_selected": len(chosen),
        "added": dict(added),
        "rejected": by_method,
        "skipped": skipped,
    }


def augment_rows(rows: list[dict], fields: list[str], augmenter: Augmenter) -> list[tuple]:
    """(original, rewritten) for the rows whose input texts the augmenter changed."""
    texts = collect_texts(rows, fields, INPUT_ROLES)
    results = augmenter(texts) if texts else []
    marked = [FAILED if r is None or not r.strip() else r for r in results]
    out = []
    for old, new in zip(rows, replace_texts(rows, fields, marked, INPUT_ROLES), strict=True):
        if new != old and FAILED not in collect_texts([new], fields, INPUT_ROLES):
            out.append((old, new))
    return out
