"""Reading and tokenising a split for training, once per process while `reuse_encoded()` is on.

A search runs many trials in one worker process on the same curated files (hard links of one
shared copy, see tune/shared_data.py); tokenising them again for every trial is wasted work.
The cache key is what the items depend on: the file's bytes, the tokenizer, the length limit
and the class weights. Callers get fresh item objects, so a trial cannot change another's.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

from tunesmith.artifacts import read_jsonl
from tunesmith.scoped_cache import ScopedCache

# key -> (rows, items) while `reuse_encoded()` is active
_CACHE = ScopedCache()

CLASS_WEIGHTS = "class_weights.json"  # written by the data stage; a declared input of trainers


def reuse_encoded():
    """Within the block, a split with the same bytes and settings is tokenised once."""
    return _CACHE.scope()


def read_rows(path: Path) -> list[dict]:
    return read_jsonl(path) if path.is_file() else []


def read_class_weights(data_dir: Path) -> dict[str, float]:
    """Per-label loss weights the balance step wrote (data/class_weights.json; empty: none)."""
    import json

    path = data_dir / CLASS_WEIGHTS
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")) or {}


def encode_rows(rows: list[dict], tokenizer, max_length: int, class_weights: dict | None = None):
    """Training items for `rows`; a labelled row gets its class's loss weight."""
    from tunesmith.models.formatting import encode_example

    items = []
    for row in rows:
        item = encode_example(row, tokenizer, max_length)
        if class_weights and "label" in row:
            item.weight = float(class_weights.get(row["label"], 1.0))
        items.append(item)
    return items


def encoded_split(path: Path, tokenizer, max_length: int, class_weights: dict | None = None):
    """(rows, items) of the split at `path` (no file: both empty)."""

    def make():
        rows = read_rows(path)
        return rows, encode_rows(rows, tokenizer, max_length, class_weights)

    if not _CACHE.active or not path.is_file():
        return make()
    key = (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        tokenizer.name_or_path,
        len(tokenizer),
        max_length,
        tuple(sorted((class_weights or {}).items())),
    )
    rows, items = _CACHE.get(key, make)
    return copy.deepcopy(rows), [copy.copy(item) for item in items]
