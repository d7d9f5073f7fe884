"""Regularisation switched on around the training loop: the model's own dropout, NEFTune,
and AdamW parameter groups that never decay norms and biases."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def regularized(model, regularization):
    """Attention/hidden dropout and NEFTune noise for the `with` body; undone on exit, so
    the saved model's config and later stages are unchanged."""
    undo = [
        _attention_dropout(model, regularization.attention_dropout),
        _hidden_dropout(model, regularization.hidden_dropout),
        _neftune(model, regularization.neftune_alpha),
    ]
    try:
        yield
    finally:
        for restore in undo:
            restore()


def _inner(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _attention_dropout(model, p: float | None):
    """Set the attention probabilities' dropout for the `with` body: `attention_dropout` on
    the config and on each attention module (Llama-likes read it per forward), or the p of
    GPT-2's `attn_dropout` layers. A model with neither is refused: the key would do nothing."""
    if p is None:
        return lambda: None
    import torch

    config = _inner(model).config
    saved = [(m, m.attention_dropout) for m in model.modules() if hasattr(m, "attention_dropout")]
    layers = [
        m.attn_dropout
        for m in model.modules()
        if isinstance(getattr(m, "attn_dropout", None), torch.nn.Dropout)
    ]
    if not saved and not layers:
        _refuse("attention_dropout", "no attention module reads an attention dropout")
    before, layer_ps = getattr(config, "attention_dropout", None), [m.p for m in layers]
    config.attention_dropout = p
    for module, _ in saved:
        module.attention_dropout = p
    for layer in layers:
        layer.p = p

    def restore():
        config.attention_dropout = before
        for module, value in saved:
            module.attention_dropout = value
        for layer, value in zip(layers, layer_ps, strict=True):
            layer.p = value

    return restore


# A block's attention and MLP, by the names the architectures use (GPT-2: attn)
BLOCK_PARTS = ("self_attn", "attn", "mlp")


def _hidden_dropout(model, p: float):
    """Dropout on each block's attention and MLP outputs (before the residual add)."""
    if not p:
        return lambda: None
    import torch.nn.functional as F

    from tunesmith.methods.base import decoder_blocks

    def hook(module, args, output):
        if not module.training:
            return output
        if isinstance(output, tuple):
            return (F.dropout(output[0], p, True), *output[1:])
        return F.dropout(output, p, True)

    found = decoder_blocks(_inner(model))
    parts = [
        child
        for block in (found[0] if found else [])
        for name in BLOCK_PARTS
        if (child := getattr(block, name, None)) is not None
    ]
    if not parts:
        _refuse("hidden_dropout", "its blocks' attention and MLP layers were not found")
    handles = [child.register_forward_hook(hook) for child in parts]
    return lambda: [h.remove() for h in handles]


def _refuse(key: str, why: str):
    from tunesmith.errors import UserError

    raise UserError(
        f"training.regularization.{key}: cannot be applied to this model ({why}); leave it out"
    )


def _neftune(model, alpha: float):
    """NEFTune (Jain et al., 2023) through transformers' own hook."""
    if not alpha:
        return lambda: None
    from transformers.integrations.neftune import neftune_post_forward_hook

    embeddings = _inner(model).get_input_embeddings()
    embeddings.neftune_noise_alpha = alpha
    handle = embeddings.register_forward_hook(neftune_post_forward_hook)

    def restore():
        handle.remove()
        del embeddings.neftune_noise_alpha

    return restore


def parameter_groups(model, weight_decay: float) -> list[dict]:
    """AdamW groups: weight decay on matrices only, never on norms, biases or 1-D weights."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        flat = parameter.ndim < 2 or "norm" in name.lower() or name.endswith(".bias")
        (no_decay if flat else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups
