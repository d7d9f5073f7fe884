"""A leaner LoRA forward/backward for training on CPU, switched on around the training loop.

peft's LoRA linear runs dropout, the two adapter matmuls, a scale and an add as separate ops,
and its dropout (`bernoulli_` + divide + multiply) costs as much as the frozen matmul beside it
on a CPU. Here one autograd function does the same maths with less traffic:

- the dropout mask comes from 16 random bits per element (one 64-bit draw feeds four
  elements), compared straight into the compute dtype (one pass, no bool -> float cast);
  P(drop) = round(p * 65536) / 65536;
- dropout's 1/(1-p) and LoRA's alpha/r are applied to the rank-r intermediate, not to the
  full-width activations, and the adapter's output is added inside the matmul (`addmm_`);
- without dropout, backward keeps only the layer input (shared by q/k/v and by gate/up);
  with dropout it keeps the dropped-out input and the mask, so backward recomputes neither
  (measured cheaper than re-masking: the mask's cast and multiply ran on every backward).

Only plain single-adapter LoRA on a CPU `nn.Linear` is patched; anything else (GPUs included)
keeps peft's forward and the model's own attention.
The patch is undone on exit, so saved adapters and later stages see ordinary peft modules.
"""

from __future__ import annotations

import contextlib
import functools

MASK_BITS = 16


@contextlib.contextmanager
def fast_training(model, fuse_lora: bool = True):
    """Patch eligible LoRA layers (when `fuse_lora`) and switch to lean attention for the
    `with` body."""
    patched = [m for m in model.modules() if fuse_lora and _eligible(m)]
    for module in patched:
        module.forward = _FusedForward(module)
    restore_attention = _use_lean_attention(model)
    try:
        yield len(patched)
    finally:
        for module in patched:
            module.__dict__.pop("forward", None)
        restore_attention()


def _eligible(module) -> bool:
    try:
        from peft.tuners.lora.layer import Linear as LoraLinear
    except ImportError:  # pragma: no cover - peft is a dependency
        return False
    import torch

    if not isinstance(module, LoraLinear) or not isinstance(module.base_layer, torch.nn.Linear):
        return False
    adapters = list(module.active_adapters)
    single = len(adapters) == 1 and adapters[0] in module.lora_dropout
    dropout = module.lora_dropout[adapters[0]] if single else None
    return (
        single
        and module.base_layer.weight.device.type == "cpu"
        and round(float(getattr(dropout, "p", 0.0)) * (1 << MASK_BITS)) < (1 << MASK_BITS)
        and adapters[0] in module.lora_A
        and adapters[0] not in getattr(module, "lora_variant", {})
        and not module.use_dora.get(adapters[0], False)
        and not getattr(module, "lora_bias", {}).get(adapters[0], False)
        and not module.fan_in_fan_out
    )


class _FusedForward:
    """Bound replacement for one LoRA layer's forward; falls back to peft when unsure."""

    def __init__(self, module):
        self.module = module
        self.original = type(module).forward.__get__(module)
        self.adapter = list(module.active_adapters)[0]
        dropout = module.lora_dropout[self.adapter]
        self.p = float(getattr(dropout, "p", 0.0))
        self.threshold = round(self.p * (1 << MASK_BITS))

    def __call__(self, x, *args, **kwargs):
        module = self.module
        if args or kwargs or module.disable_adapters or module.merged:
            return self.original(x, *args, **kwargs)
        keep = None
        base = module.base_layer
        if module.training and self.threshold > 0:
            keep = random_keep_mask(x.shape, self.threshold, compute_dtype(base.weight))
        scale = module.scaling[self.adapter]
        if keep is not None:
            scale = scale * (1 << MASK_BITS) / ((1 << MASK_BITS) - self.threshold)
        return _lora_function().apply(
            x,
            base.weight,
            base.bias,
            module.lora_A[self.adapter].weight,
            module.lora_B[self.adapter].weight,
            scale,
            keep,
        )


def random_keep_mask(shape, threshold: int, dtype=None):
    """0/1 mask in `dtype` (default uint8), each element 0 with probability threshold / 2**16."""
    import torch

    count = 1
    for size in shape:
        count *= size
    words = torch.empty((count + 3) // 4, dtype=torch.int64).random_(-(2**63), None)
    bits = words.view(torch.int16)[:count].view(shape)
    keep = torch.empty(shape, dtype=dtype or torch.uint8)
    return torch.ge(bits, threshold - (1 << (MASK_BITS - 1)), out=keep)


def compute_dtype(tensor):
    """The dtype a CPU op on `tensor` computes in: CPU autocast's when it is on, else its own."""
    import torch

    if torch.is_autocast_enabled("cpu") and tensor.device.type == "cpu":
        return torch.get_autocast_dtype("cpu")
    return tensor.dtype


@functools.cache
def _lora_function():
    import torch

    class LoraLinear(torch.autograd.Function):
        """y = x W^T + b + (scale * mask(x) A^T) B^T, saving the (masked) input and the mask."""

        @staticmethod
        def forward(ctx, x, weight, bias, lora_a, lora_b, scale, keep):
            dtype = compute_dtype(weight)
            with torch.autocast("cpu", enabled=False):
                shape = x.shape
                x2 = x.reshape(-1, shape[-1]).to(dtype)
                w, a, b = weight.to(dtype), lora_a.to(dtype), lora_b.to(dtype)
                y = torch.nn.functional.linear(x2, w, None if bias is None else bias.to(dtype))
                if keep is not None:
                    keep = keep.reshape(x2.shape).to(dtype)
                masked = x2 if keep is None else x2 * keep
                h = (masked @ a.t()).mul_(scale)
                y.addmm_(h, b.t())
            ctx.save_for_backward(masked, keep, h, w, a, b)
            ctx.scale, ctx.shape = scale, shape
            ctx.dtypes = (x.dtype, lora_a.dtype, lora_b.dtype)
            ctx.has_bias = bias is not None and bias.requires_grad
            return y.view(*shape[:-1], y.shape[-1])

        @staticmethod
        def backward(ctx, grad):
            masked, keep, h, w, a, b = ctx.saved_tensors
            x_dtype, a_dtype, b_dtype = ctx.dtypes
            with torch.autocast("cpu", enabled=False):
                g = grad.reshape(-1, grad.shape[-1]).to(w.dtype)
                grad_b = g.t() @ h
                grad_h = (g @ b).mul_(ctx.scale)
                grad_a = grad_h.t() @ masked
                grad_x = None
                if ctx.needs_input_grad[0]:
                    grad_x = g @ w
                    if keep is None:
                        grad_x.addmm_(grad_h, a)
                    else:
                        grad_x.addcmul_(grad_h @ a, keep)
                    grad_x = grad_x.view(ctx.shape).to(x_dtype)
                grad_bias = g.sum(0) if ctx.has_bias else None
            return grad_x, None, grad_bias, grad_a.to(a_dtype), grad_b.to(b_dtype), None, None

    return LoraLinear


def _use_lean_attention(model):
    """Switch to `lean_attention` (see there why) while training; restore after."""
    from tunesmith.models.grouped_attention import STANDARD
    from tunesmith.train.lean_attention import register

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    current = getattr(getattr(inner, "config", None), "_attn_implementation", None)
    on_cpu = all(p.device.type == "cpu" for p in inner.parameters())
    if current not in STANDARD or not on_cpu or not hasattr(inner, "set_attn_implementation"):
        return lambda: None
    try:
        inner.set_attn_implementation(register())
    except (AttributeError, ValueError, KeyError):
        return lambda: None
    return lambda: inner.set_attn_implementation(current)
