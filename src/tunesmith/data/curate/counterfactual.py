"""counterfactual: counterfactual data augmentation (CDA), train split only.

Each training row whose text contains a term of the swap lexicon (he/she, John/Mary, man/
woman...) gets a copy with every term swapped, in all of its text fields but a label: the
model then sees both versions with the same answer, so the term carries no signal. The
checks stage's bias check measures the effect (docs/checks.md).
"""

from __future__ import annotations

import random
from pathlib import Path

from tunesmith.config.checks import CounterfactualConfig
from tunesmith.data.curate.base import Splits, StepOutput, register_step
from tunesmith.data.curate.rows import content_fields, map_text


@register_step("counterfactual", "post", 35, "Gender-swapped copies of training rows (CDA)")
def run(splits: Splits, config: CounterfactualConfig, ctx) -> StepOutput:
    from tunesmith.checks.lexicon import load_lexicon, swapper

    swap = swapper(load_lexicon(Path(config.lexicon) if config.lexicon else None))
    fields = content_fields(ctx)
    train = splits.get("train", [])
    originals = [r for r in train if not r.get("augmented") and not r.get("oversampled")]
    swapped = []
    for row in originals:
        new = map_text(row, fields, lambda text: swap(text)[0])
        if new != row:
            swapped.append(
                {
                    **new,
                    "id": f"{row['id']}-cda",
                    "augmented": True,
                    "augment_method": "counterfactual",
                }
            )
    chosen = random.Random(ctx.seed).sample(swapped, k=round(len(swapped) * config.fraction))
    card = {
        "counterfactual": {"rows_with_terms": len(swapped), "added": len(chosen), "fields": fields}
    }
    return StepOutput({**splits, "train": train + chosen}, [], {"added": len(chosen)}, card)
