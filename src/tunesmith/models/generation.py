"""Batched generation: prompts bucketed by length (sorted, then cut into batches), left-padded,
decoded by the fast loop (`models/decode.py`: each batch prefilled on its own, then several
batches decoded as one pool) or, where it does not apply, by `model.generate` one batch at a
time (the reason is logged once per model)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tunesmith.models.padding import pad_rows
from tunesmith.models.sampling import Sampling, seeded_generator
from tunesmith.models.stopping import stopping_for

log = logging.getLogger(__name__)


def generate_texts(
    model,
    tokenizer,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int = 16,
    on_batch: Callable[[int], None] | None = None,
    sampling: Sampling | None = None,
    answers=None,
    stop: tuple[str, ...] = (),
) -> list[str]:
    """Continuations of token-id prompts, in the prompts' order: greedy unless `sampling`,
    each cut before its first `stop` string (models/stopping.py). `answers` (models/joint.py
    `AnswerScores`): references scored in the same prefill, where the fast loop applies (rows
    it did not score are left out of `answers.nll`)."""
    from tunesmith.models.decode import decode_pool, fast_path_refusal, pool_rows

    refusal = fast_path_refusal(model)
    if refusal is not None:
        _log_fallback(model, refusal)
        return generate_texts_hf(
            model, tokenizer, prompts, max_new_tokens, batch_size, on_batch, sampling, stop
        )
    from tunesmith.models.prefix import prefix_refusal, shared_prefix

    stopping = stopping_for(model, tokenizer, stop)
    generator = seeded_generator(sampling, model.device)
    model.eval()
    prefix = shared_prefix(model, prompts)
    scored = answers if prefix_refusal(model) is None else None  # it needs the output head

    def decode(batches, shared, chunks) -> list[list[list[int]]]:
        parts = [scored.subset(c) for c in chunks] if scored is not None else None
        new = decode_pool(
            model, batches, max_new_tokens, stopping, sampling, generator, shared, parts
        )
        if parts is not None:
            for part, chunk in zip(parts, chunks, strict=True):
                scored.take(part, chunk)
        return new

    longest = max((len(p) for p in prompts), default=0)
    pool = pool_rows(model, batch_size, longest + max_new_tokens)
    return _in_buckets(
        model, tokenizer, prompts, batch_size, on_batch, decode, stopping, prefix, pool
    )


def generate_texts_hf(
    model,
    tokenizer,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int = 16,
    on_batch: Callable[[int], None] | None = None,
    sampling: Sampling | None = None,
    stop: tuple[str, ...] = (),
) -> list[str]:
    """The same through plain `model.generate` (the fallback, and the bench's baseline): it
    decodes to the token limit or an end-of-sequence token, then cuts at the stop strings."""
    import torch

    stopping = stopping_for(model, tokenizer, stop)
    pad = tokenizer.pad_token_id
    if sampling is not None:
        torch.manual_seed(sampling.seed)
    settings = _hf_settings(sampling)

    def decode(batches, _prefix, _chunks) -> list[list[list[int]]]:
        ((ids, mask),) = batches  # one batch per pool: model.generate as it is called today
        generated = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            eos_token_id=stopping.end_ids,
            pad_token_id=pad,
            **settings,
        )
        return [[stopping.cut_tokens(row) for row in generated[:, ids.shape[1] :].tolist()]]

    return _in_buckets(model, tokenizer, prompts, batch_size, on_batch, decode, stopping)


def _in_buckets(
    model, tokenizer, prompts, batch_size, on_batch, decode, stopping, prefix=None, pool=None
) -> list[str]:
    """Longest prompts first, so each batch holds prompts of similar length (little padding),
    consecutive batches handed to `decode` together up to `pool` rows (default: one batch);
    the prompts that start with `prefix` in batches of their own, without it."""
    import torch

    from tunesmith.models.prefix import has_prefix

    shared = [has_prefix(p, prefix) for p in prompts]
    outputs: list[str] = [""] * len(prompts)
    model.eval()
    with torch.inference_mode():
        for group in (False, True):
            rows = [i for i in range(len(prompts)) if shared[i] == group]
            order = sorted(rows, key=lambda i: len(prompts[i]), reverse=True)
            skip = len(prefix) if group and rows else 0
            chunks = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
            for pooled in _pools(chunks, pool or batch_size):
                batches = [
                    pad_rows(
                        [prompts[i][skip:] for i in c],
                        tokenizer.pad_token_id,
                        model.device,
                        left=True,
                    )
                    for c in pooled
                ]
                news = decode(batches, prefix if group else None, pooled)
                for chunk, new_rows in zip(pooled, news, strict=True):
                    for index, new in zip(chunk, new_rows, strict=True):
                        text = tokenizer.decode(new, skip_special_tokens=True)
                        outputs[index] = stopping.text(text)
                if on_batch:
                    on_batch(sum(len(c) for c in pooled))
    return outputs


def _pools(chunks: list[list[int]], rows: int) -> list[list[list[int]]]:
    """Consecutive chunks grouped while their rows fit in `rows` (a chunk alone always fits)."""
    pools: list[list[list[int]]] = []
    for chunk in chunks:
        if pools and sum(len(c) for c in pools[-1]) + len(chunk) <= rows:
            pools[-1].append(chunk)
        else:
            pools.append([chunk])
    return pools


def _hf_settings(sampling: Sampling | None) -> dict:
    if sampling is None:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {
        "do_sample": True,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": None,
    }


_LOGGED: set[str] = set()


def _log_fallback(model, reason: str) -> None:
    key = f"{type(model).__name__}: {reason}"
    if key not in _LOGGED:
        _LOGGED.add(key)
        log.info("generation: fast path off (%s); using model.generate", reason)
