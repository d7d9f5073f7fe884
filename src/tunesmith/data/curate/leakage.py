"""leakage: no validation/test input may have an exact or near duplicate in train (post-split).

Configured by the dedup section (`dedup.leakage`: drop | report | off); compared on the input
side of each row (prompt, user/system messages, or the text), so a test question that was
trained on counts even when its answer differs.
"""

from __future__ import annotations

from tunesmith.config.curation import DedupConfig
from tunesmith.data.curate.base import Drop, Splits, StepOutput, register_step
from tunesmith.data.curate.minhash import NearDupIndex, exact_key, shingle_hashes, strip_common
from tunesmith.data.curate.rows import input_text

HELD_OUT = ("val", "test")


@register_step("leakage", "post", 10, "Val/test rows duplicated in train", config_key="dedup")
def run(splits: Splits, config: DedupConfig, ctx) -> StepOutput:
    if config.leakage == "off":
        card = {"leakage": {"checked": False, "reason": "dedup.leakage is off"}}
        return StepOutput(dict(splits), [], {}, card)
    names = [n for n in splits if n != "train"]
    order = ["train"] + names
    texts = strip_common([input_text(r, ctx) for n in order for r in splits.get(n, [])])
    by_split, start = {}, 0
    for name in order:
        size = len(splits.get(name, []))
        by_split[name], start = texts[start : start + size], start + size
    train = splits.get("train", [])
    exact = {exact_key(t): row for t, row in zip(by_split["train"], train, strict=True)}
    index = NearDupIndex(config.threshold, config.num_perm)
    for position, text in enumerate(by_split["train"]):
        index.add(position, shingle_hashes(text, config.ngram))
    out: Splits = {"train": list(train)}
    dropped: list[Drop] = []
    found: dict[str, dict[str, int]] = {}
    for name in names:
        found[name] = {"exact": 0, "near": 0, "rows": len(splits[name])}
        out[name] = []
        for row, text in zip(splits[name], by_split[name], strict=True):
            hit = _leak(text, exact, index, train, config.ngram)
            if hit is None:
                out[name].append(row)
                continue
            kind, detail = hit
            found[name][kind] += 1
            if config.leakage == "drop":
                dropped.append(Drop(row, f"leakage_{kind}", {"split": name, **detail}))
            else:
                out[name].append(row)
    leaks = sum(f["exact"] + f["near"] for f in found.values())
    card = {
        "leakage": {
            "checked": True,
            "action": config.leakage,
            "compared_on": "input",
            "threshold": config.threshold,
            "found": found,
            "leaking_rows": leaks,
            "dropped": len(dropped),
            "clean_after": config.leakage == "drop" or leaks == 0,
        }
    }
    return StepOutput(out, dropped, {"found": found}, card)


def _leak(text, exact, index, train, ngram):
    if not text.strip():
        return None
    key = exact_key(text)
    if key in exact:
        return "exact", {"train_id": exact[key].get("id"), "similarity": 1.0}
    match = index.find(shingle_hashes(text, ngram))
    if match is not None:
        return "near", {"train_id": train[match[0]].get("id"), "similarity": round(match[1], 3)}
    return None
