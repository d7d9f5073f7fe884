"""Attention for training on CPU: eager maths, half the saved memory, no key/value copies.

On CPU, SDPA's flash kernel trains 2-3x slower than plain matmul attention at the lengths
fine-tuning sees (its backward is not tuned for bf16 there), while eager attention keeps an
fp32 softmax output and repeated key/value copies per layer. This version:

- multiplies grouped queries against the shared key/value heads directly (GQA without
  `repeat_kv`), as one batched matmul per layer and direction;
- keeps scores and probabilities in the compute dtype: the scaling rides in the score matmul
  (`baddbmm`'s alpha: one rounding, as the bmm's own output had), and softmax and its
  backward are PyTorch's fused kernels, which accumulate in fp32 internally for bf16. Earlier
  fp32 copies of the scores, probabilities and their gradients (four passes and four fresh
  fp32 tensors per layer) cost 18 % of attention's forward + backward on real training shapes
  for the same error against fp32 attention (docs/performance.md);
- saves only the probabilities for backward, not a second fp32 softmax output;
- hands sequences longer than `LEAN_MAX_LENGTH` to SDPA, whose memory is linear in length;
- runs a pass's shared head and its rows' suffixes as one flat sequence when handed that layout
  (models/packed_head.py: one traversal of the model instead of two).

Registered with transformers' AttentionInterface under `NAME`; `fastpath.fast_training`
switches a model to it for the training loop and back afterwards.
"""

from __future__ import annotations

import functools

from tunesmith.models.packed_head import KEYWORD

NAME = "tunesmith_lean"
LEAN_MAX_LENGTH = 1024


@functools.cache
def register() -> str:
    """Make `NAME` a valid `attn_implementation` (with eager's additive float mask)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    from tunesmith.models.packed_head import PACKING_ATTENTION

    AttentionInterface.register(NAME, lean_attention_forward)
    AttentionMaskInterface.register(NAME, eager_mask)
    PACKING_ATTENTION[NAME] = LEAN_MAX_LENGTH
    return NAME


def lean_attention_forward(
    module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs
):
    """transformers attention signature: (output [B, T, H, D], None)."""
    unsupported = dropout > 0 or kwargs.get("sliding_window") or kwargs.get("softcap")
    layout = kwargs.pop(KEYWORD, None)
    if layout is not None and not unsupported:  # unsupported: uncounted, so the caller refuses
        from tunesmith.train.fastpath import compute_dtype

        scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
        run = _function().apply
        return layout.attend(run, query, key, value, scaling, compute_dtype(query)), None
    # queries shorter than keys (rows continuing a shared head's cache) need the mask's offsets
    offset_without_mask = query.shape[-2] != key.shape[-2] and attention_mask is None
    if unsupported or key.shape[-2] > LEAN_MAX_LENGTH or offset_without_mask:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    return _function().apply(query, key, value, attention_mask, scaling), None


@functools.cache
def _function():
    import torch

    from tunesmith.train.fastpath import compute_dtype

    class LeanAttention(torch.autograd.Function):
        @staticmethod
        def forward(ctx, query, key, value, mask, scaling):
            batch, heads, length, dim = query.shape
            kv_heads, slots = key.shape[1], key.shape[-2]
            groups = heads // kv_heads
            dtype = compute_dtype(query)  # autocast's (full fine-tuning) or the inputs'
            with torch.autocast(query.device.type, enabled=False):
                q = query.reshape(batch * kv_heads, groups * length, dim).to(dtype)
                keys = key.reshape(batch * kv_heads, slots, dim).to(dtype)
                scores = _scaled_products(q, keys.transpose(1, 2), scaling)
                if mask is not None:
                    mask = _in_dtype(mask, dtype)
                    view = scores.view(batch, kv_heads, groups, length, slots)
                    view.add_(mask[:, :, None] if mask.dim() == 4 else mask)
                probs = torch.softmax(scores, dim=-1)
                out = torch.bmm(probs, value.reshape(batch * kv_heads, slots, dim).to(dtype))
            ctx.save_for_backward(q, keys, value, probs)
            ctx.scaling, ctx.shape = scaling, query.shape
            return out.view(batch, heads, length, dim).transpose(1, 2).contiguous()

        @staticmethod
        def backward(ctx, grad_out):
            q, keys, value, probs = ctx.saved_tensors
            batch, heads, length, dim = ctx.shape
            kv_heads, slots = value.shape[1], value.shape[2]
            values = value.reshape(batch * kv_heads, slots, dim).to(probs.dtype)
            grad = grad_out.transpose(1, 2).reshape(batch * kv_heads, -1, dim).to(probs.dtype)
            grad_value = torch.bmm(probs.transpose(1, 2), grad).view(value.shape)
            # softmax's backward is linear in its incoming gradient: scale that once, in the bmm
            grad_probs = _scaled_products(grad, values.transpose(1, 2), ctx.scaling)
            # autograd's own fused softmax backward: (g - sum(g * p)) * p, fp32 inside for bf16
            grad_scores = torch._softmax_backward_data(grad_probs, probs, -1, probs.dtype)
            grad_query = torch.bmm(grad_scores, keys).view(batch, heads, length, dim)
            grad_key = torch.bmm(grad_scores.transpose(1, 2), q).view(batch, kv_heads, slots, dim)
            return grad_query, grad_key, grad_value, None, None

    return LeanAttention


def _scaled_products(a, b, scaling: float):
    """`scaling * (a @ b)` for 3-D batches, rounded once into the inputs' dtype."""
    import torch

    out = a.new_empty((a.shape[0], a.shape[1], b.shape[2]))
    return torch.baddbmm(out, a, b, beta=0, alpha=scaling, out=out)


def _in_dtype(mask, dtype):
    """An additive mask in `dtype`; fp32's smallest value would round to -inf in bf16 (a fully
    masked row would then be NaN), so it is clamped to the dtype's own smallest first."""
    import torch

    if mask.dtype == dtype:
        return mask
    return mask.clamp(min=torch.finfo(dtype).min).to(dtype)
