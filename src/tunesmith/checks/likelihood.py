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
    from tunesmith.models.nll import example_nll

    items = [encode_pair(tokenizer, c, x) for c, x in pairs]
    pad = tokenizer.pad_token_id
    if reuse is None:
        return example_nll(model, items, batch_size, pad)
    settings = {"scored": "continuation"}
    keys = [reuse.key(item.input_ids, item.labels, settings) for item in items]
    found = {n: hit[0] for n, key in enumerate(keys) if (hit := _scored(reuse.find(key)))}
    missing = [n for n in range(len(items)) if n not in found]
    fresh = dict(
        zip(missing, example_nll(model, [items[n] for n in missing], batch_size, pad), strict=True)
    )
    reuse.keep(
        {keys[n]: {"prediction": None, "nll": v[0], "tokens": v[1]} for n, v in fresh.items()}
    )
    return [
        fresh[n] if n in fresh else (found[n]["nll"], found[n]["tokens"]) for n in range(len(items))
    ]


def _scored(hit):
    return hit if hit is not None and hit[0].get("nll") is not None else None
