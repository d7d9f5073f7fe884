"""Label-likelihood scoring: log P(label | prompt) for every known label, the way evaluation
harnesses score multiple choice.

Why: a base model asked for "the section name only" rarely types a label verbatim, so scoring
its free text gives it 0 by construction. Asking which label the model finds most likely
compares base, few-shot and tuned models fairly, and gives class probabilities.

Each label is scored as the whole answer turn the model is trained to produce (the label, then
the end-of-turn token), tokenised exactly as in training (`encode_example`). Scoring the end
token makes labels that are prefixes of each other ("net" / "net-misc") exact: P("net") is the
probability of stopping after "net", not of starting with it.

The prompt is run once per example; its KV cache is repeated for all labels, so the cost is
one prompt pass plus a short pass over the labels' tokens (shared-prefix reuse).
"""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.models.formatting import IGNORE, encode_example, encode_prompt

NORMALIZATIONS = ("sum", "mean")


def label_continuations(example: dict, labels: list[str], tokenizer) -> list[list[int]]:
    """The answer-turn token ids of each label, as training tokenises them."""
    continuations = []
    for label in labels:
        encoded = encode_example({**example, "response": label}, tokenizer, 1 << 20)
        tokens = [t for t, lab in zip(encoded.input_ids, encoded.labels) if lab != IGNORE]
        if tokenizer.eos_token_id in tokens:  # what follows the end of turn is the same for all
            tokens = tokens[: tokens.index(tokenizer.eos_token_id) + 1]
        if not tokens:
            raise ValueError(f"label {label!r} tokenises to nothing")
        continuations.append(tokens)
    return continuations


def label_log_likelihoods(
    model,
    tokenizer,
    examples: list[dict],
    labels: list[str],
    max_length: int,
    normalization: str = "sum",
    on_example: Callable[[int], None] | None = None,
) -> list[list[float]]:
    """For each example, the log-likelihood of every label (summed, or per token if 'mean')."""
    import torch

    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}")
    continuations = label_continuations(examples[0], labels, tokenizer) if examples else []
    room = max((len(c) for c in continuations), default=0)
    model.eval()
    scores = []
    with torch.inference_mode():
        for example in examples:
            prompt = encode_prompt(example, tokenizer, max_length, room)
            totals = _score_one(model, prompt, continuations, tokenizer.pad_token_id)
            if normalization == "mean":
                totals = [t / len(c) for t, c in zip(totals, continuations)]
            scores.append(totals)
            if on_example:
                on_example(1)
    return scores


def _score_one(model, prompt: list[int], continuations: list[list[int]], pad_id) -> list[float]:
    """Summed log-probs of each continuation after `prompt`, reusing the prompt's KV cache."""
    import torch

    device = next(model.parameters()).device
    out = model(input_ids=torch.tensor([prompt], device=device), use_cache=True)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    totals = [float(first[c[0]]) for c in continuations]
    longest = max(len(c) for c in continuations)
    if longest == 1:
        return totals
    cache = out.cache  # transformers 5.24 renamed past_key_values (constraints.txt pins it)
    cache.batch_repeat_interleave(len(continuations))
    width = longest - 1
    ids = torch.full((len(continuations), width), pad_id or 0, dtype=torch.long, device=device)
    mask = torch.zeros((len(continuations), len(prompt) + width), dtype=torch.long, device=device)
    mask[:, : len(prompt)] = 1
    for row, tokens in enumerate(continuations):
        fed = tokens[:-1]  # each token predicts the next; the last one predicts nothing
        if fed:
            ids[row, : len(fed)] = torch.tensor(fed, device=device)
            mask[row, len(prompt) : len(prompt) + len(fed)] = 1
    logits = model(input_ids=ids, attention_mask=mask, cache=cache).logits
    logp = torch.log_softmax(logits.float(), dim=-1)
    for row, tokens in enumerate(continuations):
        for position, token in enumerate(tokens[1:]):
            totals[row] += float(logp[row, position, token])
    return totals


def softmax_rows(scores: list[list[float]]) -> list[list[float]]:
    """Class probabilities from label log-likelihoods (normalised over the known labels)."""
    import numpy as np

    values = np.asarray(scores, dtype=np.float64)
    values -= values.max(axis=1, keepdims=True)
    probs = np.exp(values)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs.tolist()
