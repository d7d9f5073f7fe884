"""Exact keys and MinHash-LSH near-duplicate search (datasketch), verified on exact Jaccard."""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np

WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """Lower-cased words joined by single spaces: the key of exact-duplicate search."""
    return " ".join(WORD.findall(text.casefold()))


def exact_key(text: str) -> bytes:
    return hashlib.blake2b(normalise(text).encode(), digest_size=16).digest()


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word n-grams of `text` (one shingle if shorter)."""
    import xxhash

    words = WORD.findall(text.casefold())
    if not words:
        return np.empty(0, dtype=np.uint32)
    if len(words) <= ngram:
        grams = [" ".join(words)]
    else:
        grams = [" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]
    return np.unique(
        np.fromiter((xxhash.xxh32_intdigest(g.encode()) for g in grams), dtype=np.uint32)
    )


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) or not len(b):
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def strip_common(texts: list[str], least: int = 12) -> list[str]:
    """Drop a prefix/suffix shared by every text (a prompt template would inflate similarity)."""
    if len(texts) < 2:
        return texts
    head = os.path.commonprefix(texts)
    tail = os.path.commonprefix([t[::-1] for t in texts])[::-1]
    head = head if len(head) >= least else ""
    tail = tail if len(tail) >= least else ""
    if not head and not tail:
        return texts
    return [t[len(head) : len(t) - len(tail) if tail else None] for t in texts]


def lsh_params(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows per band) with the fewest false candidates that still makes a pair at the
    threshold a candidate with probability >= `recall` (candidates are verified exactly, so
    recall is what matters; datasketch's default balances both and misses ~half at threshold)."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


class NearDupIndex:
    """MinHash LSH over shingle sets; `find` returns the most similar stored key above threshold."""

    def __init__(self, threshold: float, num_perm: int = 128) -> None:
        from datasketch import MinHash, MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        self._lsh = MinHashLSH(num_perm=num_perm, params=lsh_params(threshold, num_perm))
        # One permutation set for all signatures: building it per MinHash dominates the cost.
        self._permutations = MinHash(num_perm=num_perm, seed=1).permutations
        self._sets: dict[object, np.ndarray] = {}

    def signature(self, hashes: np.ndarray):
        from datasketch import MinHash

        sig = MinHash(
            num_perm=self.num_perm,
            hashfunc=int,
            permutations=self._permutations,
            scheme="affine32",
        )
        sig.update_batch(hashes.tolist())
        return sig

    def find(self, hashes: np.ndarray, sig=None) -> tuple[object, float] | None:
        if not len(hashes):
            return None
        sig = sig if sig is not None else self.signature(hashes)
        best = None
        for key in self._lsh.query(sig):
            score = jaccard(hashes, self._sets[key])
            if score >= self.threshold and (best is None or score > best[1]):
                best = (key, score)
        return best

    def add(self, key: object, hashes: np.ndarray, sig=None) -> None:
        if not len(hashes):
            return
        self._lsh.insert(key, sig if sig is not None else self.signature(hashes))
        self._sets[key] = hashes
