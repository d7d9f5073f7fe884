"""Quality score per row: length and repetition (always), base-model perplexity (optional).

Each feature becomes a penalty in [0, 1]; the score is 1 - the largest penalty. A row whose
penalty reaches 1 is an outlier: robust z-score (median/MAD) beyond `z_threshold` for length
or perplexity, or a share of repeated word 3-grams at or above `max_repetition`.
"""

from __future__ import annotations

import math
from collections import Counter

from tunesmith.config.curation import QualityCheck
from tunesmith.data.curate.rows import content_fields, row_text

REASONS = {
    "length": "length_outlier",
    "repetition": "repetitive",
    "perplexity": "perplexity_outlier",
}


def repetition(words: list[str]) -> float:
    """Share of word 3-grams that repeat an earlier one (0 for fewer than 4 words)."""
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return 0.0 if len(grams) < 2 else 1 - len(set(grams)) / len(grams)


def robust_z(values: list[float], floor: float = 0.1) -> list[float]:
    """0.6745 (x - median) / MAD; the MAD is floored so near-constant data flags nothing odd."""
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    mad = max(sorted(abs(v - median) for v in values)[len(values) // 2], floor)
    return [0.6745 * (v - median) / mad for v in values]


def score_rows(rows: list[dict], config: QualityCheck, ctx) -> tuple[list[float], dict, dict]:
    """(score per row, {row index: (reason, detail)} for outliers, stats)."""
    if not rows:
        return [], {}, {}
    texts = [row_text(r, content_fields(ctx)) for r in rows]
    words = [t.lower().split() for t in texts]
    features = {
        "length": robust_z([math.log1p(len(w)) for w in words]),
        "repetition": [repetition(w) for w in words],
    }
    if config.perplexity and ctx.load_model is not None:
        model, tokenizer = ctx.load_model()
        features["perplexity"] = robust_z(
            [math.log(p) for p in perplexities(texts, model, tokenizer)]
        )
    scores, flags = [], {}
    span = max(config.z_threshold - 2, 1e-6)
    for i in range(len(rows)):
        penalties = {  # most specific first: ties name the first
            "repetition": min(1.0, features["repetition"][i] / config.max_repetition),
            "length": min(1.0, max(0.0, (abs(features["length"][i]) - 2) / span)),
        }
        if "perplexity" in features:
            penalties["perplexity"] = min(1.0, max(0.0, (features["perplexity"][i] - 2) / span))
        worst = max(penalties, key=penalties.get)
        scores.append(round(1 - penalties[worst], 3))
        if penalties[worst] >= 1:
            flags[i] = (REASONS[worst], {f"{worst}_value": round(features[worst][i], 3)})
    stats = {
        "mean_score": round(sum(scores) / len(scores), 4),
        "score_histogram": _histogram(scores),
        "flagged": dict(Counter(reason for reason, _ in flags.values())),
        "features": sorted(features),
    }
    return scores, flags, stats


def _histogram(scores: list[float], bins: int = 10) -> dict:
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, int(s * bins))] += 1
    return {"edges": [i / bins for i in range(bins + 1)], "counts": counts}


def perplexities(texts: list[str], model, tokenizer, batch: int = 8, max_len: int = 512):
    """Per-text perplexity under a causal LM."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    side, tokenizer.padding_side = tokenizer.padding_side, "right"
    try:
        out: list[float] = []
        for start in range(0, len(texts), batch):
            out += _batch_perplexity(texts[start : start + batch], model, tokenizer, max_len)
        return out
    finally:
        tokenizer.padding_side = side


def _batch_perplexity(texts: list[str], model, tokenizer, max_len: int) -> list[float]:
    import torch

    enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_len)
    enc = {k: v.to(model.device) for k, v in enc.items()}
    with torch.no_grad():
        logits = model(**enc).logits[:, :-1].float()
    target = enc["input_ids"][:, 1:]
    mask = enc["attention_mask"][:, 1:].float()
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
    per_text = (nll * mask).sum(1) / mask.sum(1).clamp(min=1)
    return [math.exp(min(float(v), 50.0)) for v in per_text]
