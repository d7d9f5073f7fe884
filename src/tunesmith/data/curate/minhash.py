"""Exact keys and MinHash-LSH near-duplicate search (datasketch), verified on exact Jaccard."""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import unicodedata

import numpy as np
import regex

# Scripts written without spaces between words: each character is a token of its own
# (with its combining marks), so a sentence is not one giant "word" (a single shingle).
NO_SPACES = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
# A word keeps its combining marks (Python's re `\w` splits Hindi "खाता" at its vowel sign).
WORD = regex.compile(rf"(?V1)[{NO_SPACES}]\p{{M}}*|[[\w\p{{M}}]--[{NO_SPACES}]]+")
ASCII_WORD = re.compile(r"\w+")
FORMAT = regex.compile(r"\p{Cf}+")
WORD_CHAR = regex.compile(rf"(?V1)[[\w\p{{M}}]--[{NO_SPACES}]]")


def words(text: str) -> list[str]:
    """The tokens every key is made of: NFKC (composed/decomposed and compatibility forms
    alike), case-folded, without format characters (zero-width space, joiners, soft hyphen),
    so invisible differences do not make two texts different."""
    if text.isascii():  # no other forms, marks or scripts: the faster stdlib `re` suffices
        return ASCII_WORD.findall(text.lower())
    text = FORMAT.sub("", unicodedata.normalize("NFKC", text))
    return WORD.findall(text.casefold())


def normalise(text: str) -> str:
    """Lower-cased words joined by single spaces: the key of exact-duplicate search."""
    return " ".join(words(text))


def exact_key(text: str) -> bytes:
    return hashlib.blake2b(normalise(text).encode(), digest_size=16).digest()


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word n-grams of `text` (one shingle if shorter);
    in scripts without spaces (Chinese, Japanese, Thai...) character n-grams."""
    import xxhash

    tokens = words(text)
    if not tokens:
        return np.empty(0, dtype=np.uint32)
    if len(tokens) <= ngram:
        grams = [" ".join(tokens)]
    else:
        grams = [" ".join(tokens[i : i + ngram]) for i in range(len(tokens) - ngram + 1)]
    return np.unique(
        np.fromiter((xxhash.xxh32_intdigest(g.encode()) for g in grams), dtype=np.uint32)
    )


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) or not len(b):
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def strip_common(texts: list[str], least: int = 12, most: float = 0.5) -> list[str]:
    """Drop a prefix/suffix shared by every text (a prompt template would inflate similarity).

    Only when it is at most `most` of the median text: a shared part that is most of the text
    is content (rows that differ in one word of twenty are near duplicates), and stripping it
    would leave each row a word or two, too short for n-grams to compare. The cut falls on a
    word boundary, so a variable part is not cut mid-word ("apple"/"apricot" keep their "ap")."""
    if len(texts) < 2:
        return texts
    head = _word_prefix(os.path.commonprefix(texts))
    tail = _word_prefix(os.path.commonprefix([t[::-1] for t in texts]))[::-1]
    head = head if len(head) >= least else ""
    tail = tail if len(tail) >= least else ""
    if not head and not tail:
        return texts
    if len(head) + len(tail) > most * statistics.median(len(t) for t in texts):
        return texts
    return [t[len(head) : len(t) - len(tail) if tail else None] for t in texts]


def _word_prefix(common: str) -> str:
    """`common` without a trailing partial word (it may continue differently in each text)."""
    cut = len(common)
    while cut and WORD_CHAR.match(common[cut - 1]):
        cut -= 1
    return common[:cut]


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
