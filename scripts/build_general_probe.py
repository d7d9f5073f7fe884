"""Build src/tunesmith/checks/data/general_probe.jsonl.gz (the forgetting probe), run once.

Source: ../shared/data/wordnet_glosses.jsonl.gz (WordNet 3.0 from Debian's wordnet-base,
WordNet 3.0 licence). A seeded sample of synsets that have a usage example and a one-word
lemma, none of them among the definitions of the shipped example data
(examples/wordnet_definitions.jsonl.gz), so the wordnet-define recipe never trains on them.
Each item: the definition, four one-word choices of the same part of speech (the answer and
three seeded distractors), and the usage example (general English text for perplexity).
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "wordnet_glosses.jsonl.gz"
SHIPPED = ROOT / "src/tunesmith/examples/wordnet_definitions.jsonl.gz"
OUT = ROOT / "src/tunesmith/checks/data/general_probe.jsonl.gz"
ITEMS = 200


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main(source: Path = SOURCE) -> None:
    shipped = {r["definition"] for r in _read(SHIPPED)}
    rng = random.Random(0)
    pool = [
        r
        for r in _read(source)
        if r["examples"]
        and r["definition"] not in shipped
        and r["words"][0].isalpha()
        and 4 <= len(r["words"][0]) <= 12
        and r["words"][0].islower()
    ]
    rng.shuffle(pool)
    chosen, seen = [], set()
    for r in pool:
        if r["words"][0] not in seen:
            seen.add(r["words"][0])
            chosen.append(r)
        if len(chosen) == ITEMS:
            break
    items = []
    for r in chosen:
        same_pos = [c["words"][0] for c in chosen if c["pos"] == r["pos"] and c is not r]
        choices = [r["words"][0], *rng.sample(same_pos, 3)]
        rng.shuffle(choices)
        items.append(
            {
                "synset": r["synset"],
                "pos": r["pos"],
                "definition": r["definition"],
                "choices": choices,
                "answer": choices.index(r["words"][0]),
                "text": r["examples"][0],
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress("".join(json.dumps(i) + "\n" for i in items).encode(), mtime=0))
    print(json.dumps({"items": len(items), "out": str(OUT)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
