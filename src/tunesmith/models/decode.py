"""The fast decoding loop behind `generate_texts`: one preallocated KV cache per pool of
batches (each batch prefilled on its own, then all decoded together), one forward per step
with a ready-made mask, finished rows dropped from the pool.

Profiling `model.generate` on the 135M default model (bf16, batch 16) showed the step time
spent mostly outside the matmuls: the dynamic cache concatenates (reallocates) every layer's
keys and values each step, the 4-D mask is rebuilt each step, and the logits processors and
stopping criteria run per step. Here the cache is a transformers `StaticCache` (allocated once,
written in place), the decode mask is one boolean row per sequence updated in place, and a row
that has stopped leaves the batch once enough rows have stopped to make the copy worth it.
"""

from __future__ import annotations

from tunesmith.models.grouped_attention import STANDARD
from tunesmith.models.prefix import cache_config
from tunesmith.models.sampling import Sampling, next_tokens
from tunesmith.models.stopping import Stopping

# Drop finished rows once this share of the batch has stopped: each drop copies the cache.
COMPACT_SHARE = 0.25
# Rows decoded together (`decode_pool`), and the most their keys/values may take.
POOL_ROWS = 64
POOL_CACHE_BYTES = 1 << 30


def fast_path_refusal(model) -> str | None:
    """Why the fast loop does not apply to `model` (None when it does)."""
    base = getattr(model, "get_base_model", lambda: model)()
    peft_config = getattr(model, "active_peft_config", None)
    if getattr(peft_config, "is_prompt_learning", False):
        # peft prepends virtual tokens and concatenates its own 2-D mask to ours: the loop's
        # ready 4-D mask and static cache cannot take that
        return f"peft {peft_config.peft_type} (prompt learning) adds virtual tokens"
    config = getattr(base, "config", None)
    if config is None or not hasattr(base, "generation_config"):
        return "not a transformers causal LM"
    if not getattr(base, "_can_compile_fullgraph", False):
        return f"{type(base).__name__} does not support a static KV cache"
    text = config.get_text_config(decoder=True)
    if getattr(text, "sliding_window", None) or getattr(text, "is_encoder_decoder", False):
        return f"{type(base).__name__} uses sliding-window or encoder-decoder attention"
    if getattr(config, "_attn_implementation", "sdpa") not in STANDARD:
        return f"attention implementation {config._attn_implementation!r} is not sdpa/eager"
    if base.device.type not in ("cpu", "cuda"):
        return f"device {base.device.type} is not cpu/cuda"
    return None


def decode_pool(
    model,
    batches: list[tuple],
    max_new_tokens: int,
    stopping: Stopping,
    sampling: Sampling | None = None,
    generator=None,
    prefix=None,
    answers: list | None = None,
) -> list[list[list[int]]]:
    """New token ids per row of each left-padded (ids, mask) batch, each ending before its
    first end-of-sequence token (or once its text reached a stop string). Each batch is
    prefilled on its own (prompts of similar length, little padding), then all rows decode
    together. With a `Prefix` (models/prefix.py) the batches hold the
    rows' suffixes after it; with `AnswerScores` per batch (models/joint.py) the prefills
    score them too.

    Why: a decoding step reads every weight once whatever the number of rows, so on a CPU it
    costs nearly the same for 16 rows as for 64 (measured in docs/performance.md), while a
    prefill over 64 prompts pads them to the longest. Per row the result is the same: its
    cache slots, positions and mask are its own; only the slots' offsets differ."""
    parts = answers if answers is not None else [None] * len(batches)
    states = [
        _start(model, ids, mask, max_new_tokens, prefix, part)
        for (ids, mask), part in zip(batches, parts, strict=True)
    ]
    state = states[0] if len(states) == 1 else _merged(model, states, max_new_tokens)
    del states
    produced = _decode(model, state, max_new_tokens, stopping, sampling, generator)
    out, first = [], 0
    for ids, _ in batches:
        out.append(produced[first : first + ids.shape[0]])
        first += ids.shape[0]
    return out


def pool_rows(model, batch_size: int, slots: int) -> int:
    """How many rows to decode together: up to `POOL_ROWS`, within `POOL_CACHE_BYTES` of
    keys/values at `slots` per row, never fewer than `batch_size`."""
    text = cache_config(model).get_text_config(decoder=True)
    layers = getattr(text, "num_hidden_layers", None)
    heads = getattr(text, "num_key_value_heads", None) or getattr(text, "num_attention_heads", 0)
    dim = getattr(text, "head_dim", None) or text.hidden_size // max(text.num_attention_heads, 1)
    if not layers or not heads:
        return batch_size
    size = next(model.parameters()).element_size()
    per_row = 2 * layers * heads * dim * slots * size
    return max(batch_size, min(POOL_ROWS, POOL_CACHE_BYTES // max(per_row, 1)))


def _start(model, ids, mask, new_tokens: int, prefix, answers):
    """What the decoding loop starts from: (cache, slot mask, last positions, next-token
    logits, first generated slot); with `answers` the prefill scores them too."""
    if answers is not None and any(a is not None for a in answers.answers):
        from tunesmith.models.joint import scoring_prefill

        state, scores = scoring_prefill(model, ids, mask, answers.answers, new_tokens, prefix)
        answers.nll.update({row: s for row, s in enumerate(scores) if s is not None})
        return state
    return _prefill(model, ids, mask, new_tokens, prefix)


def _merged(model, states, new_tokens: int):
    """One start state for all rows of `states`: each row's slots before its first generated
    one, right-aligned to a common first generated slot (its mask moves with them)."""
    import torch
    from transformers import StaticCache

    start = max(state[4] for state in states)
    rows = sum(state[1].shape[0] for state in states)
    cache = StaticCache(config=cache_config(model), max_cache_len=start + new_tokens)
    allowed = torch.zeros((rows, start + new_tokens), dtype=torch.bool, device=states[0][1].device)
    for index, layer in enumerate(cache.layers):
        template = states[0][0].layers[index]
        layer.lazy_initialization(
            template.keys.new_empty((rows, template.keys.shape[1], 1, template.keys.shape[-1])),
            template.values.new_empty(
                (rows, template.values.shape[1], 1, template.values.shape[-1])
            ),
        )
        first = 0
        for part_cache, part_allowed, _, _, part_start in states:
            n, offset = part_allowed.shape[0], start - part_start
            source = part_cache.layers[index]
            layer.keys[first : first + n, :, offset:start] = source.keys[:, :, :part_start]
            layer.values[first : first + n, :, offset:start] = source.values[:, :, :part_start]
            first += n
        layer.cumulative_length.fill_(start)
    first = 0
    for _, part_allowed, _, _, part_start in states:
        n = part_allowed.shape[0]
        allowed[first : first + n, start - part_start : start] = part_allowed[:, :part_start]
        first += n
    position = torch.cat([state[2] for state in states])
    logits = torch.cat([state[3] for state in states])
    return cache, allowed, position, logits, start


def _decode(model, state, max_new_tokens: int, stopping, sampling, generator) -> list[list[int]]:
    """The decoding loop from a start state: one forward per step, finished rows dropped."""
    import torch

    cache, allowed, position, logits, start = state
    rows = allowed.shape[0]
    device = allowed.device
    ends = torch.tensor(stopping.end_ids, device=device)
    candidates = stopping.candidates.to(device) if stopping.candidates is not None else None
    live = torch.arange(rows, device=device)  # original row of each batch row
    produced: list[list[int]] = [[] for _ in range(rows)]
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    ready = step_mask(model)
    for step in range(max_new_tokens):
        token = next_tokens(logits, sampling, generator)
        done |= torch.isin(token, ends)
        for row, value in zip(live.tolist(), token.tolist(), strict=True):
            produced[row].append(value)
        if candidates is not None:
            _stop_strings_reached(stopping, candidates, token, done, live, produced)
        stopped = int(done.sum())
        if step == max_new_tokens - 1 or stopped == len(live):
            break
        if stopped and stopped >= COMPACT_SHARE * len(live):
            keep = (~done).nonzero().squeeze(-1)
            _keep_rows(cache, keep)
            live, token, allowed, position = live[keep], token[keep], allowed[keep], position[keep]
            done = done[keep]
        position = position + 1
        allowed[:, start + step] = True
        logits = model(
            input_ids=token[:, None],
            attention_mask=ready(allowed[:, None, None, :]),
            position_ids=position[:, None],
            cache=cache,
            use_cache=True,
        ).logits[:, -1]
    return [stopping.cut_tokens(tokens) for tokens in produced]


def _stop_strings_reached(stopping, candidates, token, done, live, produced) -> None:
    """Mark done the rows whose newest token may end a stop string and whose text holds one
    (decoded only for those rows: the check is rare, the table lookup is per step)."""
    check = (candidates[token] & ~done).nonzero().squeeze(-1).tolist()
    for index in check:
        if stopping.reached(produced[int(live[index])]):
            done[index] = True


def step_mask(model):
    """How a ready 4-D boolean mask (True: attend) is handed to `model`.

    Why: transformers passes a 4-D mask to the attention function as it is. SDPA and tunesmith's
    inference attention take a boolean one; eager attention adds its mask to the scores, so a
    boolean mask there would add 1 to every visible score and 0 to the hidden ones, attending
    to padding and unwritten cache slots (outputs diverged from `model.generate`).
    """
    from tunesmith.models.masks import additive_mask

    if getattr(cache_config(model), "_attn_implementation", None) != "eager":
        return lambda allowed: allowed
    dtype = next(model.parameters()).dtype
    return lambda allowed: additive_mask(allowed, dtype)


def _prefill(model, ids, mask, new_tokens: int, prefix):
    """(cache, slot mask, last positions, next-token logits, first generated slot)."""
    start = ids.shape[1] + (len(prefix) if prefix is not None else 0)
    cache, allowed, position = start_cache(model, mask, start + new_tokens, prefix)
    logits = model(
        input_ids=ids,
        attention_mask=allowed.long(),
        position_ids=position,
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    ).logits[:, -1]
    return cache, allowed, position[:, -1], logits, start


def start_cache(model, mask, total: int, prefix):
    """(static cache, boolean mask over its `total` slots, positions of the batch's tokens)."""
    import torch
    from transformers import StaticCache

    rows, width = mask.shape
    if prefix is None:
        cache = StaticCache(config=model.config, max_cache_len=total)
        seen, position = mask, (mask.long().cumsum(-1) - 1).clamp(min=0)
    else:
        cache = prefix.static_cache(model, rows, total)
        seen, position = prefix.inputs(mask)
    allowed = torch.zeros((rows, total), dtype=torch.bool, device=mask.device)
    allowed[:, : seen.shape[1]] = seen.bool()
    return cache, allowed, position


def _keep_rows(cache, keep) -> None:
    """Shrink every layer of a static cache to the rows in `keep` (one copy per layer)."""
    for layer in cache.layers:
        if getattr(layer, "is_initialized", False):
            layer.keys = layer.keys.index_select(0, keep)
            layer.values = layer.values.index_select(0, keep)
            layer.batch_size = len(keep)
