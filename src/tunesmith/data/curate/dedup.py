"""dedup: exact (normalised text) and near-duplicate (MinHash LSH) removal within the data."""

from __future__ import annotations

from tunesmith.config.curation import DedupConfig
from tunesmith.data.curate.base import Drop, Splits, StepOutput, register_step
from tunesmith.data.curate.minhash import NearDupIndex, exact_key, shingle_hashes, strip_common
from tunesmith.data.curate.rows import row_text


def dedup_texts(rows: list[dict], fields: list[str]) -> list[str]:
    """The text compared per row: every field, each without its data-wide common prefix."""
    columns = []
    for name in fields:
        values = [row_text(row, [name]) for row in rows]
        columns.append(strip_common(values))
    return ["\n".join(parts) for parts in zip(*columns)] if columns else ["" for _ in rows]


@register_step("dedup", "pre", 20, "Exact and near-duplicate removal (MinHash LSH)")
def run(splits: Splits, config: DedupConfig, ctx) -> StepOutput:
    fields = list(ctx.text_fields) + ([ctx.label_field] if ctx.label_field else [])
    out: Splits = {}
    dropped: list[Drop] = []
    stats = {"exact": 0, "near": 0, "threshold": config.threshold, "ngram": config.ngram}
    for split, rows in splits.items():
        texts = dedup_texts(rows, fields)
        seen: dict[bytes, dict] = {}
        index = NearDupIndex(config.threshold, config.num_perm) if config.near else None
        kept = []
        for position, (row, text) in enumerate(zip(rows, texts)):
            key = exact_key(text)
            if config.exact and key in seen:
                stats["exact"] += 1
                dropped.append(Drop(row, "exact_duplicate", {"duplicate_of": seen[key]["id"]}))
                continue
            if index is not None:
                hashes = shingle_hashes(text, config.ngram)
                sig = index.signature(hashes) if len(hashes) else None
                match = index.find(hashes, sig)
                if match is not None:
                    stats["near"] += 1
                    other = rows[match[0]]
                    detail = {"duplicate_of": other["id"], "similarity": round(match[1], 3)}
                    dropped.append(Drop(row, "near_duplicate", detail))
                    continue
                index.add(position, hashes, sig)
            seen.setdefault(key, row)
            kept.append(row)
        out[split] = kept
    return StepOutput(out, dropped, stats)
