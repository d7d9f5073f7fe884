"""Attention for training on CPU: eager maths, half the saved memory, no key/value copies.

On CPU, SDPA's flash kernel trains 2-3x slower than plain matmul attention at the lengths
fine-tuning sees (its backward is not tuned for bf16 there), while eager attention keeps an
fp32 softmax output and repeated key/value copies per layer. This version:

- multiplies grouped queries against the shared key/value heads directly (GQA without
  `repeat_kv`), as one batched matmul per layer and direction;
- saves only the bf16 probabilities for backward (the softmax gradient is taken from them
  in fp32), not the fp32 softmax output as well;
- hands sequences longer than `LEAN_MAX_LENGTH` to SDPA, whose memory is linear in length.

Registered with transformers' AttentionInterface under `NAME`; `fastpath.fast_training`
switches a model to it for the training loop and back afterwards.
"""

from __future__ import annotations

import functools

NAME = "tunesmith_lean"
LEAN_MAX_LENGTH = 1024


@functools.cache
def register() -> str:
    """Make `NAME` a valid `attn_implementation` (with eager's additive float mask)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(NAME, lean_attention_forward)
    AttentionMaskInterface.register(NAME, eager_mask)
    return NAME


def lean_attention_forward(
    module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs
):
    """transformers attention signature: (output [B, T, H, D], None)."""
    unsupported = dropout > 0 or kwargs.get("sliding_window") or kwargs.get("softcap")
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

    class LeanAttention(torch.autograd.Function):
        @staticmethod
        def forward(ctx, query, key, value, mask, scaling):
            batch, heads, length, dim = query.shape
            kv_heads = key.shape[1]
            groups = heads // kv_heads
            q = query.reshape(batch, kv_heads, groups * length, dim)
            scores = (q @ key.transpose(-1, -2)).float()
            scores = scores.view(batch, kv_heads, groups, length, -1).mul_(scaling)
            if mask is not None:
                scores.add_(mask[:, :, None] if mask.dim() == 4 else mask)
            probs = torch.softmax(scores, dim=-1).to(query.dtype)
            probs = probs.view(batch, kv_heads, groups * length, -1)
            out = probs @ value  # [B, KV, G*T, D]
            ctx.save_for_backward(q, key, value, probs)
            ctx.scaling, ctx.shape = scaling, query.shape
            out = out.view(batch, heads, length, dim).transpose(1, 2).contiguous()
            return out

        @staticmethod
        def backward(ctx, grad_out):
            q, key, value, probs = ctx.saved_tensors
            batch, heads, length, dim = ctx.shape
            kv_heads = key.shape[1]
            grad = grad_out.transpose(1, 2).reshape(batch, kv_heads, -1, dim).to(probs.dtype)
            grad_value = probs.transpose(-1, -2) @ grad
            grad_probs = (grad @ value.transpose(-1, -2)).float()
            p = probs.float()
            grad_scores = grad_probs.sub_((grad_probs * p).sum(-1, keepdim=True)).mul_(p)
            grad_scores = grad_scores.mul_(ctx.scaling).to(q.dtype)
            grad_query = (grad_scores @ key).view(batch, heads, length, dim)
            grad_key = grad_scores.transpose(-1, -2) @ q
            return grad_query, grad_key, grad_value, None, None

    return LeanAttention
