"""Training attention (train/lean_attention.py) in bf16 and under autocast, against fp32 maths.

The fp32 path equals eager attention to 1e-6 (test_perf_invariants.py); here the reduced
precision path: scores, probabilities and their gradients stay in bf16 with fp32 inside the
fused kernels, which must stay as close to exact attention as bf16 inputs allow.
"""

from __future__ import annotations

import pytest
import torch

from tunesmith.train.lean_attention import _function


def _inputs(dtype, batch=3, heads=6, kv_heads=2, length=40, slots=48, dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, length, dim, generator=gen)
    k = torch.randn(batch, kv_heads, slots, dim, generator=gen)
    v = torch.randn(batch, kv_heads, slots, dim, generator=gen)
    # queries continue after `slots - length` earlier keys (as rows after a shared head do);
    # the last row's first 5 keys are padding
    allowed = torch.ones(slots, slots, dtype=torch.bool).tril()[slots - length :]
    allowed = allowed.expand(batch, 1, length, slots).clone()
    allowed[-1, :, :, :5] = False
    mask = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(dtype).min).to(dtype)
    grad = torch.randn(batch, length, heads, dim, generator=gen)
    return q, k, v, mask, grad


def _run(q, k, v, mask, grad, dtype, scaling):
    leaves = [t.to(dtype).requires_grad_() for t in (q, k, v)]
    out = _function().apply(*leaves, mask, scaling)
    out.backward(grad.to(out.dtype))
    return [out.float()] + [t.grad.float() for t in leaves]


def _exact(q, k, v, mask, grad, scaling):
    """fp32 eager attention with the keys/values repeated per query head."""
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    groups = q.shape[1] // k.shape[1]
    keys, values = (t.repeat_interleave(groups, 1) for t in leaves[1:])
    probs = torch.softmax(leaves[0] @ keys.transpose(-1, -2) * scaling + mask.float(), -1)
    out = (probs @ values).transpose(1, 2)
    out.backward(grad)
    return [out.detach()] + [t.grad for t in leaves]


@pytest.mark.parametrize("scaling", [0.25, 16**-0.5 * 0.9])  # a power of two, and not
def test_bf16_outputs_and_gradients_stay_close_to_exact_attention(scaling):
    q, k, v, mask, grad = _inputs(torch.bfloat16)
    got = _run(q, k, v, mask, grad, torch.bfloat16, scaling)
    want = _exact(q, k, v, mask, grad, scaling)
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, want, strict=True):
        relative = float((a - b).abs().max() / b.abs().max())
        assert relative < 0.03, (name, relative)


def test_fp32_mask_under_bf16_autocast_keeps_fully_masked_rows_finite():
    q, k, v, _, grad = _inputs(torch.float32)
    mask = torch.zeros(3, 1, 40, 48)
    mask[0, :, :3] = torch.finfo(torch.float32).min  # three queries that may see no key at all
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _function().apply(*leaves, mask, 0.25)
    assert out.dtype == torch.bfloat16
    out.float().backward(grad)
    assert torch.isfinite(out.float()).all()
    assert all(torch.isfinite(t.grad).all() for t in leaves)
    # a query that sees no key averages the values uniformly, as eager attention does
    uniform = v[0].repeat_interleave(3, 0).mean(1)  # [heads, dim]
    torch.testing.assert_close(out[0, 0].float(), uniform, atol=0.02, rtol=0.02)
