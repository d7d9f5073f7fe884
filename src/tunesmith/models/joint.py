"""Perplexity from the generation prefill: where a row needs both the NLL of its reference and
a generation from the same prompt, one prefill over prompt + reference gives both.

Why: the evaluate stage is prefill-bound, and the perplexity pass (prompt + reference) re-read
every prompt the generation then read again. Here the batch is [left pads | prompt | reference
| right pads]: the logits at the reference's positions give its NLL, the logits at the prompt's
last position the first generated token; then the cache is rewound to the prompt's end, so the
decoding loop overwrites the reference's slots (each one masked until it is written).

Only where the token sequences provably coincide: the perplexity encoding is the generation
prompt's ids followed by the reference's (same tokenisation, same truncation) and the prompt
part carries no label. Other rows, and models the fast loop refuses, get a separate NLL pass.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from tunesmith.models.formatting import IGNORE, Encoded
from tunesmith.models.padding import pad_rows

SCORE_IN_PREFILL = True  # off only inside `separate_passes` (the bench's baseline)


@dataclass
class AnswerScores:
    """References to score during generation: per prompt the answer after it (ids and labels,
    None where it cannot be scored there); `nll` gets prompt index -> (NLL sum, tokens)."""

    answers: list[Encoded | None]
    nll: dict[int, tuple[float, int]] = field(default_factory=dict)

    def subset(self, indices: list[int]) -> AnswerScores:
        return AnswerScores([self.answers[i] for i in indices])

    def take(self, part: AnswerScores, indices: list[int]) -> None:
        """Take the scores of `part` (the subset at `indices`)."""
        self.nll.update({indices[j]: value for j, value in part.nll.items()})


def answers_after(prompts: list[list[int]], items: list[Encoded]) -> AnswerScores:
    """Each item's tokens after its prompt, where the item is exactly prompt + answer."""
    if not SCORE_IN_PREFILL:
        return AnswerScores([None] * len(prompts))
    answers = []
    for prompt, item in zip(prompts, items, strict=True):
        n = len(prompt)
        same = item.input_ids[:n] == prompt and len(item.input_ids) > n
        if same and all(label == IGNORE for label in item.labels[:n]):
            answers.append(Encoded(item.input_ids[n:], item.labels[n:]))
        else:
            answers.append(None)
    return AnswerScores(answers)


@contextmanager
def separate_passes():
    """Within the block: the paths before shared-prefix reuse and prefill scoring (perplexity
    in its own pass, every prompt whole), so a bench can time both in one process."""
    from tunesmith.models import prefix

    global SCORE_IN_PREFILL
    saved = SCORE_IN_PREFILL, prefix.MIN_SHARED
    SCORE_IN_PREFILL, prefix.MIN_SHARED = False, 1 << 30
    try:
        yield
    finally:
        SCORE_IN_PREFILL, prefix.MIN_SHARED = saved


def scoring_prefill(model, ids, mask, answers: list[Encoded | None], new_tokens: int, prefix):
    """Prefill a left-padded prompt batch with each row's answer appended; returns what the
    decoding loop starts from — (cache, slot mask, last positions, next-token logits, first
    generated slot) — and each row's (answer NLL sum, tokens), None for rows without one."""
    import torch

    from tunesmith.models.decode import start_cache
    from tunesmith.models.nll import split_model

    rows, width = ids.shape
    tail, tail_mask, labels = _right_padded(answers, ids)
    start = width + (len(prefix) if prefix is not None else 0)
    total = start + max(new_tokens, tail.shape[1])
    full_mask = torch.cat([mask, tail_mask], dim=1)
    cache, allowed, position = start_cache(model, full_mask, total, prefix)
    backbone, head = split_model(model)
    hidden = backbone(
        input_ids=torch.cat([ids, tail], dim=1),
        attention_mask=allowed.long(),
        position_ids=position,
        cache=cache,
        use_cache=True,
    ).last_hidden_state
    logits = head(hidden[:, width - 1])
    scores = _answer_nll(head, hidden[:, width - 1 : -1], labels, answers)
    # rewind: generated tokens go where the answer was, each slot masked until written
    for layer in cache.layers:
        layer.cumulative_length.fill_(start)
    allowed[:, start:] = False
    return (cache, allowed, position[:, width - 1], logits, start), scores


def _right_padded(answers, ids):
    """(answer ids, their mask, their labels), right-padded; empty rows where there is none."""
    tail, tail_mask = pad_rows([a and a.input_ids for a in answers], 0, ids.device)
    labels, _ = pad_rows([a and a.labels for a in answers], IGNORE, ids.device)
    return tail, tail_mask, labels


def _answer_nll(head, hidden, labels, answers) -> list[tuple[float, int] | None]:
    """Per row the summed NLL of its supervised answer tokens; hidden[:, j] predicts token j."""
    import torch
    import torch.nn.functional as F

    supervised = labels != IGNORE
    per_token = F.cross_entropy(
        head(hidden[supervised]).float(), labels[supervised], reduction="none"
    )
    sums = torch.zeros(len(answers), device=per_token.device)
    sums.index_add_(0, supervised.nonzero()[:, 0], per_token)
    counts = supervised.sum(dim=1).tolist()
    return [
        (float(total), int(count)) if answer is not None else None
        for total, count, answer in zip(sums.tolist(), counts, answers, strict=True)
    ]
