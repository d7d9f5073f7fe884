"""Choosing the next token: greedy (argmax, as `model.generate` does) or sampled with a
temperature and nucleus (top-p) cut, from a seeded generator so a seed repeats its outputs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sampling:
    """Sampled decoding settings (None in place of this means greedy)."""

    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0


def next_tokens(logits, sampling: Sampling | None, generator=None):
    """One token id per row of `logits` (rows x vocabulary)."""
    import torch

    if sampling is None:
        return logits.argmax(-1)
    scores = logits.float() / max(sampling.temperature, 1e-5)
    if sampling.top_p < 1.0:
        ordered, order = scores.sort(-1, descending=True)
        cumulative = ordered.softmax(-1).cumsum(-1)
        # keep the smallest prefix whose mass reaches top_p (always at least the best token)
        cut = (cumulative - ordered.softmax(-1)) >= sampling.top_p
        ordered = ordered.masked_fill(cut, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(-1, order, ordered)
    probabilities = scores.softmax(-1)
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)


def seeded_generator(sampling: Sampling | None, device):
    """A generator seeded from the settings (None for greedy decoding)."""
    import torch

    if sampling is None:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(sampling.seed)
    return generator
