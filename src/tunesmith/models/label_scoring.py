"""Label-likelihood scoring: log P(label | prompt) for every known label, the way evaluation
harnesses score multiple choice.

Why: a base model asked for "the section name only" rarely types a label verbatim, so scoring
its free text gives it 0 by construction. Asking which label the model finds most likely
compares base, few-shot and tuned models fairly, and gives class probabilities.

Each label is scored as the whole answer turn the model is trained to produce (the label, then
the end-of-turn token), tokenised exactly as in training (`encode_example`). Scoring the end
token makes labels that are prefixes of each other ("net" / "net-misc") exact: P("net") is the
probability of stopping after "net", not of starting with it.

Shared-prefix reuse (models/prefix.py) at two levels: the head the prompts share (few-shot
demonstrations, the template) is run once per example set, each prompt once on top of it, and
its keys/values serve all labels, so the cost is one pass over each prompt's own tokens plus a
short pass over the labels' tokens. Models the mechanism refuses are scored by one plain
forward over every (prompt, label) row instead.
"""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.models.formatting import IGNORE, encode_example, fit_prompt
from tunesmith.models.padding import pad_rows

NORMALIZATIONS = ("sum", "mean")


def label_room(example: dict, labels: list[str], tokenizer) -> int:
    """Tokens a prompt leaves free for the longest label's continuation (0 without labels)."""
    return max((len(c) for c in label_continuations(example, labels, tokenizer)), default=0)


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
) -> tuple[list[list[float]], list[bool]]:
    """For each example, the log-likelihood of every label (summed, or per token if 'mean'),
    and whether its prompt was cut to leave room for the longest label within max_length."""
    import torch

    from tunesmith.models.prefix import has_prefix, prefix_refusal, run_prefix, shared_prefix

    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}")
    continuations = label_continuations(examples[0], labels, tokenizer) if examples else []
    room = max((len(c) for c in continuations), default=0)
    fitted = [fit_prompt(e, tokenizer, max_length, room) for e in examples]
    prompts = [ids for ids, _ in fitted]
    model.eval()
    refused = prefix_refusal(model) is not None
    head = shared_prefix(model, prompts)
    scores = []
    with torch.inference_mode():
        for prompt in prompts:
            if refused:
                totals = _score_plain(model, prompt, continuations, tokenizer.pad_token_id)
            else:
                own = run_prefix(model, prompt, head if has_prefix(prompt, head) else None)
                totals = _score_after(model, own, continuations, tokenizer.pad_token_id)
            if normalization == "mean":
                totals = [t / len(c) for t, c in zip(totals, continuations)]
            scores.append(totals)
            if on_example:
                on_example(1)
    return scores, [cut for _, cut in fitted]


def _score_after(model, prompt, continuations: list[list[int]], pad_id) -> list[float]:
    """Summed log-probs of each continuation after a prompt's `Prefix` (its keys/values and
    last hidden state), all continuations in one batch over copies of its cache."""
    import torch

    from tunesmith.models.nll import split_model

    backbone, head = split_model(model)
    first = torch.log_softmax(head(prompt.last_hidden).float(), dim=-1)
    totals = [float(first[c[0]]) for c in continuations]
    if max(len(c) for c in continuations) == 1:
        return totals
    # each token predicts the next; the last one predicts nothing
    ids, mask = pad_rows([c[:-1] for c in continuations], pad_id or 0, first.device)
    attention, positions = prompt.inputs(mask)
    hidden = backbone(
        input_ids=ids,
        attention_mask=attention,
        position_ids=positions,
        cache=prompt.dynamic_cache(model, len(continuations)),
        use_cache=True,
    ).last_hidden_state
    return _add_scores(totals, torch.log_softmax(head(hidden).float(), dim=-1), continuations, 1)


def _score_plain(model, prompt: list[int], continuations, pad_id) -> list[float]:
    """The same by one full forward over every (prompt, continuation) row (no cache)."""
    import torch

    device = next(model.parameters()).device
    ids, mask = pad_rows([prompt + c[:-1] for c in continuations], pad_id or 0, device)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, -ids.shape[1] :]
    logp = torch.log_softmax(logits[:, len(prompt) - 1 :].float(), dim=-1)
    return _add_scores([0.0] * len(continuations), logp, continuations, 0)


def _add_scores(totals, logp, continuations, first: int) -> list[float]:
    """`totals` plus each continuation's token log-probs from token `first` on; row r of
    `logp` holds, at position j, the distribution of continuation r's token first + j."""
    for row, tokens in enumerate(continuations):
        for position, token in enumerate(tokens[first:]):
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
