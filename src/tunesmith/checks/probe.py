"""The shipped general-ability probe (checks/data/general_probe.jsonl.gz, WordNet 3.0).

Items whose definition or usage sentence occurs in the run's training split are left out, so
the probe measures retained general ability, not memorised training data.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources

PROBE = "general_probe.jsonl.gz"


def probe_items() -> list[dict]:
    data = resources.files("tunesmith.checks").joinpath("data", PROBE).read_bytes()
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]


def held_out_items(train_texts: list[str], limit: int) -> tuple[list[dict], int]:
    """(the first `limit` probe items absent from training, how many were left out)."""
    corpus = "\n".join(train_texts).lower()
    kept, dropped = [], 0
    for item in probe_items():
        if item["definition"].lower() in corpus or item["text"].lower() in corpus:
            dropped += 1
        elif len(kept) < limit:
            kept.append(item)
    return kept, dropped


def question(item: dict) -> str:
    return f"Definition: {item['definition']}\nThe word defined is:"
