"""Curation throughput on the Debian descriptions: one JSON line per figure.

clean + exact dedup + near-dup (MinHash LSH) at 10k, 30k and all rows, then PII anonymisation
with the pattern recognizers (names by the offline gazetteer, no NER model) in records/s, and
with spaCy NER for names when a spaCy English model is installed.

    python bench/curate_throughput.py [PATH] [--pii-rows N] [--ner-rows N]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
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
    parser.add_argument(
        "--ner-rows", type=int, default=1_000, help="also time spaCy NER when installed (0: off)"
    )
    args = parser.parse_args()
    if not Path(args.path).is_file():
        raise SystemExit(f"{args.path}: data file not found")

    from tunesmith.config.curation import CurationConfig
    from tunesmith.data.curate import CurationContext, pre_split

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
    print(json.dumps(pii_throughput(texts, "gazetteer", "pii_pattern_recognizers")))
    if args.ner_rows:
        from tunesmith.data.curate.pii_engine import NER_MODELS

        if any(importlib.util.find_spec(m) for m in NER_MODELS):
            line = pii_throughput(texts[: args.ner_rows], "ner", "pii_with_spacy_ner")
            print(json.dumps(line))


def pii_throughput(texts: list[str], person_names: str, figure: str) -> dict:
    from tunesmith.config.curation import PiiConfig
    from tunesmith.data.curate.pii import Anonymizer

    anonymizer = Anonymizer(PiiConfig(person_names=person_names), seed=0)
    anonymizer.texts(texts[:50])  # warm-up: regex compilation, tldextract snapshot, model
    anonymizer.counts.clear()
    start = time.perf_counter()
    anonymizer.texts(texts)
    seconds = time.perf_counter() - start
    return {
        "figure": figure,
        "records": len(texts),
        "seconds": round(seconds, 2),
        "records_per_s": round(len(texts) / seconds, 1),
        "person_names": anonymizer.detector.person_names,
        "found": dict(anonymizer.counts),
    }


if __name__ == "__main__":
    main()
