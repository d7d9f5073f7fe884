"""Attention for bf16 inference on CPU: grouped-query batched matmuls in cache-sized chunks.

Profiling the fast generation path (bf16, 135M default model) put SDPA's CPU kernel at 37 % of
a decoding step's time and 21 % of a prefill's: at one query per row (the step) it runs at a
few GB/s, 2.8 ms per layer for 64 rows x 280 slots, where two batched matmuls and an fp32
softmax over the same keys take 1.7 ms (measured with the minimum of repeated rounds). Here:

- the query heads of one key/value head are one matrix against that head's keys (GQA without
  `repeat_kv`), scores and softmax in fp32 as eager attention does them;
- rows are taken in chunks whose fp32 scores stay in the CPU's cache;
- everything else goes to transformers' SDPA function unchanged: fp32 (so fp32 outputs stay
  identical to plain `model.generate`), anything with autograd (training keeps its own
  attention, train/lean_attention.py), a causal mask left implicit, dropout, softcapping,
  sliding windows, position biases, attention sinks, and rows whose scores alone exceed
  `CHUNK_SCORE_BYTES`.

Registered with transformers' AttentionInterface under `NAME`, with SDPA's boolean mask, and
set on CPU models at load (`models/loading.py`).
"""

from __future__ import annotations

import contextlib
import functools

NAME = "tunesmith_grouped"
# Attention implementations whose maths is plain softmax attention (the fast paths accept them).
STANDARD = ("sdpa", "eager", NAME)
# fp32 scores computed at once: rows are taken in chunks whose scores stay in cache (measured:
# 4 MB chunks 1.2-1.9x faster than SDPA on prefills where one 35 MB block was 2x slower);
# a row whose scores alone are larger goes to SDPA, whose memory is linear in length
CHUNK_SCORE_BYTES = 4 << 20


@functools.cache
def register() -> str:
    """Make `NAME` a valid `attn_implementation` (with SDPA's boolean mask)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, grouped_attention_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME


def use_grouped_attention(model) -> None:
    """Switch a CPU model on SDPA to `NAME` (a no-op for anything else)."""
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return
    if any(p.device.type != "cpu" for p in model.parameters()):
        return
    # a model class that refuses custom kernels keeps SDPA
    with contextlib.suppress(AttributeError, ValueError, KeyError):
        model.set_attn_implementation(register())


def grouped_attention_forward(
    module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs
):
    """transformers attention signature: (output [B, T, H, D], None)."""
    rows = _rows_per_chunk(query, key)
    if rows == 0 or _delegate(query, key, attention_mask, dropout, kwargs):
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    batch, heads, length, dim = query.shape
    out = query.new_empty((batch, length, heads, dim))
    for first in range(0, batch, rows):
        part = slice(first, first + rows)
        mask = attention_mask
        if mask is not None and mask.shape[0] > 1:
            mask = mask[part]
        out[part] = _grouped(query[part], key[part], value[part], mask, scaling)
    return out, None


def _rows_per_chunk(query, key) -> int:
    """Rows whose fp32 scores fit in `CHUNK_SCORE_BYTES` (0: one row alone does not)."""
    batch, heads, length, _ = query.shape
    per_row = 4 * heads * length * key.shape[-2]
    return min(batch, CHUNK_SCORE_BYTES // per_row)


# attention arguments some architectures pass that change the maths (left to SDPA's function)
_MODIFIERS = ("softcap", "sliding_window", "position_bias", "s_aux", "sinks")


def _delegate(query, key, mask, dropout, kwargs) -> bool:
    import torch

    return bool(
        query.dtype == torch.float32
        or (torch.is_grad_enabled() and query.requires_grad)
        or (mask is None and query.shape[-2] > 1)
        or (mask is not None and mask.dtype != torch.bool)
        or query.shape[1] % key.shape[1]  # not grouped-query attention
        or dropout > 0
        or any(kwargs.get(name) is not None for name in _MODIFIERS)
    )


def _grouped(query, key, value, mask, scaling: float):
    """[B, T, H, D] attention output of one chunk of rows."""
    import torch

    batch, heads, length, dim = query.shape
    kv_heads, slots = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    # 3-D batched matmuls on whole (contiguous) key blocks: bmm of a sliced cache falls back to
    # a slow path on CPU (measured 4x slower), so unwritten slots are masked, not cut
    q = query.reshape(batch * kv_heads, groups * length, dim)
    keys = key.reshape(batch * kv_heads, slots, dim)
    scores = torch.bmm(q, keys.transpose(1, 2)).float().mul_(scaling)
    if mask is not None:
        # the smallest float, not -inf: a fully masked row (a padding query) stays finite
        view = scores.view(batch, kv_heads, groups, length, slots)
        view.masked_fill_(~mask[:, :, None], torch.finfo(torch.float32).min)
    probs = torch.softmax(scores, dim=-1).to(query.dtype)
    out = torch.bmm(probs, value.reshape(batch * kv_heads, slots, dim))
    return out.view(batch, heads, length, dim).transpose(1, 2)
