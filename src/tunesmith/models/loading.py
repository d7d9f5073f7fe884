"""Load a tokenizer and a causal LM from a resolved model spec."""

from __future__ import annotations

import copy

from tunesmith.config.schema import ModelConfig
from tunesmith.errors import UserError
from tunesmith.models.naming import RECIPE_NAME
from tunesmith.models.resolve import resolve_model
from tunesmith.scoped_cache import ScopedCache

# (source, device) -> (pristine model, tokenizer) while `reuse_loaded_models()` is active
_LOADED = ScopedCache()


def reuse_loaded_models():
    """Within the block each base model is read from disk once; later loads get a deep copy
    (stages change the model they get: adapters, bf16 casts, full fine-tuning)."""
    return _LOADED.scope()


def load_tokenizer(config: ModelConfig):
    from transformers import AutoTokenizer

    source = resolve_model(config.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as exc:
        raise UserError(f"model.name: cannot load a tokenizer from {source}: {exc}") from None
    if tokenizer.pad_token is None:
        # Padding positions are masked out of attention and loss; which id fills them
        # does not matter, so reuse eos rather than growing the vocabulary.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model_and_tokenizer(config: ModelConfig, device: str | None = None):
    """(model, tokenizer): fp32 weights on `device` (default: the recipe's device), eval mode."""
    if not _LOADED.active:
        return _load(config, device)
    key = (resolve_model(config.name), device or config.device)
    model, tokenizer = _LOADED.get(key, lambda: _load(config, device))
    return copy.deepcopy(model), tokenizer


def _load(config: ModelConfig, device: str | None):
    import torch
    from transformers import AutoModelForCausalLM

    from tunesmith.models.device import resolve_device
    from tunesmith.models.grouped_attention import use_grouped_attention

    source = resolve_model(config.name)
    tokenizer = load_tokenizer(config)
    _hide_weight_loading_bars()
    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    except Exception as exc:
        raise UserError(f"model.name: cannot load a causal LM from {source}: {exc}") from None
    model.to(device or resolve_device(config.device))
    model.eval()
    # adapters saved from it name their base by this, not by the local folder it came from
    setattr(model, RECIPE_NAME, config.name)
    use_grouped_attention(model)  # bf16 inference attention on CPU (fp32 stays on SDPA)
    return model, tokenizer


_LOADING_BAR = "Loading weights"
_bars_hidden = False


def _hide_weight_loading_bars() -> None:
    """transformers draws a 'Loading weights' tqdm bar for every model it loads (a run loads
    three or four, each in about a second) between tunesmith's own progress lines. Hidden
    through transformers' tqdm hook, once per process; every other bar (a hub download, a
    GGUF conversion: things a user waits for) is drawn as before."""
    global _bars_hidden
    from transformers.utils import logging as hf_logging

    if _bars_hidden:
        return
    previous = hf_logging.set_tqdm_hook(None)  # kept: a hook someone else set still applies

    def hook(factory, args, kwargs):
        if kwargs.get("desc") == _LOADING_BAR:
            return hf_logging.EmptyTqdm(*args, **kwargs)
        return previous(factory, args, kwargs) if previous else factory(*args, **kwargs)

    hf_logging.set_tqdm_hook(hook)
    _bars_hidden = True
