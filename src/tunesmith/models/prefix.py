"""Shared-prefix KV reuse: the keys/values of a token prefix that many sequences share are
computed once (batch 1) and every batch starts from them, so only each row's own suffix is run.

Why: evaluation prompts share long heads — the chat template's system turn and instruction, and
in the few-shot row the same demonstrations (~500 tokens) before every test row. Prefill is
where evaluation spends its time, so running that head once per prompt set instead of once per
row (and per pass: perplexity, generation, label scoring) removes most of the few-shot row's
cost. Positions continue after the prefix, so each row sees exactly the positions, tokens and
mask it would see unshared; only the floating-point summation order differs.

The prefix is the longest one shared by at least half of the rows and by two at least (rows
without it run unshared), never the whole of any row (each row keeps a suffix of at least one
token), and is used only from `MIN_SHARED` tokens on: below that, copying the cache into every
batch costs about what it saves.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_SHARED = 32


@dataclass
class Prefix:
    ids: list[int]
    keys: list  # per layer: [1, kv heads, len(ids), head dim]
    values: list
    last_hidden: object = None  # [hidden size] at the prefix's last position

    def __len__(self) -> int:
        return len(self.ids)

    def static_cache(self, model, rows: int, max_len: int):
        """A `StaticCache` for `rows` sequences of up to `max_len` slots, the prefix written in."""
        from transformers import StaticCache

        cache = StaticCache(config=cache_config(model), max_cache_len=max_len)
        for layer, keys, values in zip(cache.layers, self.keys, self.values, strict=True):
            layer.lazy_initialization(
                keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1)
            )
            layer.keys[:, :, : len(self)] = keys
            layer.values[:, :, : len(self)] = values
            layer.cumulative_length.fill_(len(self))
        return cache

    def dynamic_cache(self, model, rows: int):
        """A `DynamicCache` holding the prefix for `rows` sequences (a copy: a forward grows it)."""
        from transformers import DynamicCache

        cache = DynamicCache(config=cache_config(model))
        for index, (keys, values) in enumerate(zip(self.keys, self.values, strict=True)):
            cache.update(keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1), index)
        return cache

    def inputs(self, mask):
        """(attention mask over prefix + suffix, position ids of the suffix) for a padded
        suffix batch and its 0/1 `mask`; positions continue after the prefix."""
        import torch

        ones = torch.ones((mask.shape[0], len(self)), dtype=mask.dtype, device=mask.device)
        positions = len(self) + (mask.long().cumsum(-1) - 1).clamp(min=0)
        return torch.cat([ones, mask], dim=1), positions


def prefix_refusal(model) -> str | None:
    """Why prefix reuse does not apply to `model` (None when it does)."""
    from tunesmith.models.decode import fast_path_refusal
    from tunesmith.models.nll import split_model

    refusal = fast_path_refusal(model)
    if refusal is None and split_model(model) is None:
        return "no separate decoder and output head"
    return refusal


def shared_head(rows: list[list[int]], caps: list[int] | None = None) -> list[int]:
    """The longest prefix shared by at least half of `rows`; each row counts with at most its
    cap of tokens (default: all but its last)."""
    caps = caps if caps is not None else [len(r) - 1 for r in rows]
    heads = sorted(tuple(r[: max(c, 0)]) for r, c in zip(rows, caps, strict=True))
    need = max(2, (len(heads) + 1) // 2)  # a prefix of one row alone saves nothing
    best: tuple = ()
    # in sorted order the rows sharing a prefix are contiguous: check each window of `need`
    for first, last in zip(heads, heads[need - 1 :]):
        common = 0
        for a, b in zip(first, last):
            if a != b:
                break
            common += 1
        if common > len(best):
            best = first[:common]
    return list(best)


def shared_prefix(model, rows: list[list[int]], caps: list[int] | None = None):
    """The prefix worth sharing among `rows` (computed once), or None."""
    if not rows or prefix_refusal(model) is not None:
        return None
    head = shared_head(rows, caps)
    return run_prefix(model, head) if len(head) >= MIN_SHARED else None


def has_prefix(row: list[int], prefix: Prefix | None, cap: int | None = None) -> bool:
    """Whether `row` starts with `prefix` and keeps at least one token (or its cap) after it."""
    if prefix is None:
        return False
    limit = len(row) - 1 if cap is None else cap
    return limit >= len(prefix) and row[: len(prefix)] == prefix.ids


def run_prefix(model, ids: list[int], start: Prefix | None = None, grad: bool = False) -> Prefix:
    """The keys/values of `ids` (batch 1), continuing `start` when given (its ids come first).

    With `grad` the keys/values stay in the autograd graph (training: every row's loss then
    backpropagates into the one prefix pass, which sums their gradients)."""
    import contextlib

    import torch

    from tunesmith.models.nll import split_model

    backbone, _ = split_model(model)
    device = next(model.parameters()).device
    tail = ids[len(start) :] if start is not None else ids
    tensor = torch.tensor([tail], device=device)
    # not inference_mode: its tensors could not be reused outside it
    with contextlib.nullcontext() if grad else torch.no_grad():
        if start is None:
            out = backbone(input_ids=tensor, use_cache=True)
        else:
            mask, positions = start.inputs(torch.ones_like(tensor))
            out = backbone(
                input_ids=tensor,
                attention_mask=mask,
                position_ids=positions,
                cache=start.dynamic_cache(model, 1),
                use_cache=True,
            )
    layers = out.cache.layers
    return Prefix(
        list(ids),
        [layer.keys for layer in layers],
        [layer.values for layer in layers],
        out.last_hidden_state[0, -1],
    )


def cache_config(model):
    """The config a cache for `model` is built from (through a PEFT wrapper)."""
    return getattr(model, "get_base_model", lambda: model)().config
