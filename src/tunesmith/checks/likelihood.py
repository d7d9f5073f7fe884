"""Log-likelihood of a continuation after a context, per item (multiple choice, sentences)."""

from __future__ import annotations

from tunesmith.models.formatting import IGNORE, Encoded


def encode_pair(tokenizer, context: str, continuation: str) -> Encoded:
    """Ids of context + continuation; only the continuation's tokens are scored."""
    head = tokenizer(context, add_special_tokens=False)["input_ids"] if context else []
    tail = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    start = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    ids = start + head + tail
    return Encoded(ids, [IGNORE] * (len(start) + len(head)) + tail)


def continuation_nll(
    model, tokenizer, pairs, batch_size: int = 16, reuse=None
) -> list[tuple[float, int]]:
    """(sum of token NLL, tokens) of each (context, continuation) pair; `reuse`
    (evaluate/reuse.py) holds pairs the same model scored before, taken instead of scored."""
    from tunesmith.evaluate.reuse import nll_reusing

    items = [encode_pair(tokenizer, c, x) for c, x in pairs]
    return nll_reusing(model, items, batch_size, tokenizer.pad_token_id, reuse)
