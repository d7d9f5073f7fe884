"""leakage: no held-out input may have an exact or near duplicate where it would leak (post-split).

Configured by the dedup section (`dedup.leakage`: drop | report | off); compared on the input
side of each row (prompt, user/system messages, or the text), so a test question that was
trained on counts even when its answer differs. Validation and test rows are looked up in
train; validation rows also in test, since early stopping and the choice of the best
checkpoint on a copy of a test row tune the model to the test set. Test is the held-out set
the report scores, so a copy between the two is dropped from validation.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.config.curation import DedupConfig
from tunesmith.data.curate.base import Drop, Splits, StepOutput, register_step
from tunesmith.data.curate.minhash import NearDupIndex, exact_key, shingle_hashes, strip_common
from tunesmith.data.curate.rows import input_text


@dataclass
class _Source:
    """Rows a held-out row must not copy: their exact keys and near-duplicate index."""

    name: str  # "train" or "test": names the count (`exact`, `exact_in_test`) and the log id
    rows: list[dict]
    exact: dict[bytes, dict]
    index: NearDupIndex

    @classmethod
    def of(cls, name: str, rows: list[dict], texts: list[str], config: DedupConfig):
        index = NearDupIndex(config.threshold, config.num_perm)
        for position, text in enumerate(texts):
            index.add(position, shingle_hashes(text, config.ngram))
        exact = {exact_key(t): row for t, row in zip(texts, rows, strict=True)}
        return cls(name, rows, exact, index)

    def find(self, text: str, ngram: int) -> tuple[str, dict] | None:
        if not text.strip():
            return None
        suffix, id_key = ("", "train_id") if self.name == "train" else ("_in_test", "test_id")
        hit = self.exact.get(exact_key(text))
        if hit is not None:
            return "exact" + suffix, {id_key: hit.get("id"), "similarity": 1.0}
        match = self.index.find(shingle_hashes(text, ngram))
        if match is not None:
            row = self.rows[match[0]]
            return "near" + suffix, {id_key: row.get("id"), "similarity": round(match[1], 3)}
        return None


@register_step("leakage", "post", 10, "Val/test rows duplicated in train", config_key="dedup")
def run(splits: Splits, config: DedupConfig, ctx) -> StepOutput:
    if config.leakage == "off":
        card = {"leakage": {"checked": False, "reason": "dedup.leakage is off"}}
        return StepOutput(dict(splits), [], {}, card)
    # test first: validation is then compared with the test rows that stay
    names = sorted((n for n in splits if n != "train"), key=lambda n: n != "test")
    texts = _input_texts(splits, ["train", *names], ctx)
    sources = [_Source.of("train", splits.get("train", []), texts["train"], config)]
    out: Splits = {"train": list(splits.get("train", []))}
    dropped: list[Drop] = []
    found: dict[str, dict[str, int]] = {}
    for name in names:
        checked = sources if name == "val" else sources[:1]
        found[name] = {"exact": 0, "near": 0, "rows": len(splits[name])}
        found[name].update({f"{k}_in_test": 0 for k in ("exact", "near") if len(checked) > 1})
        out[name], kept_texts = [], []
        for row, text in zip(splits[name], texts[name], strict=True):
            hit = next((h for s in checked if (h := s.find(text, config.ngram))), None)
            if hit is not None:
                found[name][hit[0]] += 1
            if hit is not None and config.leakage == "drop":
                dropped.append(Drop(row, f"leakage_{hit[0]}", {"split": name, **hit[1]}))
                continue
            out[name].append(row)
            kept_texts.append(text)
        if name == "test":
            sources.append(_Source.of("test", out[name], kept_texts, config))
    out = {name: out[name] for name in ["train", *(n for n in splits if n != "train")]}
    leaks = sum(n for f in found.values() for key, n in f.items() if key != "rows")
    card = {
        "leakage": {
            "checked": True,
            "action": config.leakage,
            "compared_on": "input",
            "threshold": config.threshold,
            "found": {name: found[name] for name in splits if name != "train"},
            "leaking_rows": leaks,
            "dropped": len(dropped),
            "clean_after": config.leakage == "drop" or leaks == 0,
        }
    }
    return StepOutput(out, dropped, {"found": card["leakage"]["found"]}, card)


def _input_texts(splits: Splits, order: list[str], ctx) -> dict[str, list[str]]:
    """Each split's input texts, without the prefix/suffix every row shares (a template)."""
    texts = strip_common([input_text(r, ctx) for n in order for r in splits.get(n, [])])
    by_split, start = {}, 0
    for name in order:
        size = len(splits.get(name, []))
        by_split[name], start = texts[start : start + size], start + size
    return by_split
