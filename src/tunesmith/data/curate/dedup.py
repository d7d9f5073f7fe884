"""dedup: exact (normalised text) and near-duplicate (MinHash LSH) removal within the data."""

from __future__ import annotations

import numpy as np

from tunesmith.config.curation import DedupConfig
from tunesmith.data.curate.base import Drop, Splits, StepOutput, register_step
from tunesmith.data.curate.minhash import NearDupIndex, exact_key, shingle_hashes, strip_common
from tunesmith.data.curate.rows import row_text


def dedup_texts(rows: list[dict], fields: list[str]) -> list[list[str]]:
    """The texts compared per row: one per field, each without its data-wide common prefix."""
    columns = [strip_common([row_text(row, [name]) for row in rows]) for name in fields]
    return [list(parts) for parts in zip(*columns, strict=True)] if columns else [[] for _ in rows]


def row_shingles(parts: list[str], ngram: int) -> np.ndarray:
    """Union of the fields' shingles (an n-gram never spans two fields)."""
    if not parts:
        return np.empty(0, dtype=np.uint32)
    return np.unique(np.concatenate([shingle_hashes(p, ngram) for p in parts]))


@register_step("dedup", "pre", 20, "Exact and near-duplicate removal (MinHash LSH)")
def run(splits: Splits, config: DedupConfig, ctx) -> StepOutput:
    fields = list(ctx.text_fields) + ([ctx.label_field] if ctx.label_field else [])
    out: Splits = {}
    dropped: list[Drop] = []
    stats = {"exact": 0, "near": 0, "threshold": config.threshold, "ngram": config.ngram}
    for split, rows in splits.items():
        seen: dict[bytes, dict] = {}
        index = NearDupIndex(config.threshold, config.num_perm) if config.near else None
        kept = []
        for position, (row, parts) in enumerate(zip(rows, dedup_texts(rows, fields), strict=True)):
            key = exact_key("\x1f".join(parts))
            if config.exact and key in seen:
                stats["exact"] += 1
                dropped.append(Drop(row, "exact_duplicate", {"duplicate_of": seen[key]["id"]}))
                continue
            if index is not None:
                hashes = row_shingles(parts, config.ngram)
                sig = index.signature(hashes) if len(hashes) else None
                match = index.find(hashes, sig)
                if match is not None:
                    stats["near"] += 1
                    detail = {
                        "duplicate_of": rows[match[0]]["id"],
                        "similarity": round(match[1], 3),
                    }
                    dropped.append(Drop(row, "near_duplicate", detail))
                    continue
                index.add(position, hashes, sig)
            seen.setdefault(key, row)
            kept.append(row)
        out[split] = kept
    return StepOutput(out, dropped, stats)
