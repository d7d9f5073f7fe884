"""augment: add augmented copies of training rows (marked "augmented": true; train split only).

Only the input side is rewritten (prompt, user turns, or completion text): noise in a target
would teach the model to produce noise. Methods are registered in AUGMENTERS; a method that
cannot run here (no translation models, no WordNet) is skipped with a notice in the card.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from tunesmith.config.curation import AugmentConfig
from tunesmith.data.curate.base import Splits, StepOutput, register_step
from tunesmith.data.curate.rows import collect_texts, input_fields, replace_texts
from tunesmith.registry import Registry

# name -> factory(config, ctx) returning `texts -> texts (None = failed)` or a skip notice.
Augmenter = Callable[[list[str]], list["str | None"]]
AUGMENTERS: Registry[Callable[[AugmentConfig, object], Augmenter | str]] = Registry("augmentation")
INPUT_ROLES = ("user",)
FAILED = "\x00augment-failed\x00"  # stands in for a text the augmenter could not change


@register_step("augment", "post", 30, "Paraphrase, back-translate, noise, synonyms (train only)")
def run(splits: Splits, config: AugmentConfig, ctx) -> StepOutput:
    from tunesmith.data.curate import augment_model, augment_noise  # noqa: F401  (register)

    train = splits.get("train", [])
    originals = [r for r in train if not r.get("augmented") and not r.get("oversampled")]
    rng = random.Random(ctx.seed)
    chosen = rng.sample(originals, k=round(len(originals) * config.fraction))
    fields = input_fields(ctx)
    added: Counter = Counter()
    skipped: dict[str, str] = {}
    new_rows: list[dict] = []
    for method in config.methods:
        made = AUGMENTERS.get(method)(config, ctx)
        if isinstance(made, str):
            skipped[method] = made
            continue
        for copy in range(config.copies):
            for row in augment_rows(chosen, fields, made):
                new_rows.append(
                    {
                        **row,
                        "id": f"{row['id']}-aug-{method}-{copy}",
                        "augmented": True,
                        "augment_method": method,
                    }
                )
                added[method] += 1
    card = {
        "augment": {
            "rows_selected": len(chosen),
            "fields": fields,
            "added": dict(added),
            "skipped": skipped,
        }
    }
    stats = {"added": dict(added), "skipped": skipped}
    return StepOutput({**splits, "train": train + new_rows}, [], stats, card)


def augment_rows(rows: list[dict], fields: list[str], augmenter: Augmenter) -> list[dict]:
    """Rows whose input texts the augmenter changed (rows it failed on are left out)."""
    texts = collect_texts(rows, fields, INPUT_ROLES)
    results = augmenter(texts) if texts else []
    marked = [FAILED if r is None or not r.strip() else r for r in results]
    out = []
    for old, new in zip(rows, replace_texts(rows, fields, marked, INPUT_ROLES), strict=True):
        if new != old and FAILED not in collect_texts([new], fields, INPUT_ROLES):
            out.append(new)
    return out
