"""Synthetic data for the curation tests (imported by tests/test_curation_*.py)."""

from __future__ import annotations

import random

from tunesmith.config.curation import CurationConfig
from tunesmith.data.curate import CurationContext

POSITIVE = ["great", "wonderful", "lovely", "excellent", "superb", "enjoyable", "fantastic"]
NEGATIVE = ["awful", "terrible", "boring", "dreadful", "poor", "disappointing", "horrible"]
NOUNS = ["film", "movie", "plot", "cast", "ending", "soundtrack", "script", "story", "acting"]
FILLER = ["the", "a", "really", "was", "quite", "and", "very", "overall", "i", "think", "it"]


def review(rng: random.Random, words: list[str], clauses: int = 4) -> str:
    return " ".join(
        f"{rng.choice(FILLER)} {rng.choice(NOUNS)} {rng.choice(FILLER)} {rng.choice(words)}"
        for _ in range(clauses)
    )


def labelled(n_neg: int, n_pos: int, seed: int = 0) -> list[dict]:
    """Classification examples {id, prompt, response, label}: n_neg negative, n_pos positive."""
    rng = random.Random(seed)
    rows = []
    for label, words, count in (("negative", NEGATIVE, n_neg), ("positive", POSITIVE, n_pos)):
        for i in range(count):
            rows.append(
                {
                    "id": f"{label[:3]}-{i}",
                    "prompt": review(rng, words),
                    "response": label,
                    "label": label,
                }
            )
    return rows


def distinct_texts(n: int, seed: int = 0) -> list[str]:
    """n sentences of 12 random words from a 2,000-word vocabulary (pairwise far apart)."""
    rng = random.Random(seed)
    vocab = [f"w{i}x{rng.randrange(10**6)}" for i in range(2000)]
    return [" ".join(rng.choice(vocab) for _ in range(12)) for _ in range(n)]


def context(label: bool = False, fields=("prompt", "response"), **kwargs) -> CurationContext:
    return CurationContext(list(fields), "label" if label else None, 0, **kwargs)


def config(**steps) -> CurationConfig:
    return CurationConfig.model_validate(steps)
