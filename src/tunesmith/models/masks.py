"""Boolean attention masks (True: attend) in the additive form some attention functions take.

Why one helper: eager attention, and tunesmith's lean training attention, add their mask to the
scores, while SDPA and the inference attention take booleans; every place that hands a ready
mask to an additive function needs the same conversion, with the dtype's own lowest value (not
-inf, so that a query seeing no key stays finite; not fp32's, which rounds to -inf in bf16).
"""

from __future__ import annotations


def additive_mask(allowed, dtype):
    """0 where `allowed`, the lowest finite value of `dtype` elsewhere; `allowed`'s shape."""
    import torch

    hidden = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return hidden.masked_fill_(~allowed, torch.finfo(dtype).min)
