"""Curation throughput on the Debian descriptions: one JSON line per figure.

clean + exact dedup + near-dup (MinHash LSH) at 10k, 30k and all rows, then PII anonymisation
with the pattern recognizers (no NER model) in records/s.

    python bench/curate_throughput.py [PATH] [--pii-rows N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

DEFAULT_DATA = "/work/shared/data/debian_descriptions.jsonl.gz"
SIZES = (10_000, 30_000, None)


def load(path: str) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return [
        {"id": f"row-{i}", "prompt": r["description"], "response": r["synopsis"]}
        for i, r in enumerate(records)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=DEFAULT_DATA)
    parser.add_argument("--pii-rows", type=int, default=5_000)
    args = parser.parse_args()
    if not Path(args.path).is_file():
        raise SystemExit(f"{args.path}: data file not found")

    from tunesmith.config.curation import CurationConfig, PiiConfig
    from tunesmith.data.curate import CurationContext, pre_split
    from tunesmith.data.curate.pii import Anonymizer

    rows = load(args.path)
    config = CurationConfig.model_validate({"clean": {}, "dedup": {}})
    for size in SIZES:
        subset = rows[:size] if size else rows
        ctx = CurationContext(text_fields=["prompt", "response"], label_field=None, seed=0)
        start = time.perf_counter()
        kept, funnel = pre_split(subset, config, ctx)
        seconds = time.perf_counter() - start
        dedup = next(e for e in funnel if e["step"] == "dedup")
        print(
            json.dumps(
                {
                    "figure": "clean+exact+near",
                    "rows": len(subset),
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(len(subset) / seconds, 1),
                    "kept": len(kept),
                    "exact_dups": dedup["stats"]["exact"],
                    "near_dups": dedup["stats"]["near"],
                }
            )
        )

    texts = [r["prompt"] for r in rows[: args.pii_rows]]
    anonymizer = Anonymizer(PiiConfig(person_names="gazetteer"), seed=0)
    anonymizer.texts(texts[:50])  # warm-up: regex compilation, tldextract snapshot
    anonymizer.counts.clear()
    start = time.perf_counter()
    anonymizer.texts(texts)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "figure": "pii_pattern_recognizers",
                "records": len(texts),
                "seconds": round(seconds, 2),
                "records_per_s": round(len(texts) / seconds, 1),
                "person_names": anonymizer.detector.person_names,
                "found": dict(anonymizer.counts),
            }
        )
    )


if __name__ == "__main__":
    main()
