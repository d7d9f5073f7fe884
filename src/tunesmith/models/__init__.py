"""The ONE place that resolves and loads a base model and tokenizer."""

from tunesmith.models.device import autocast_dtype, resolve_device, resolve_precision, set_threads
from tunesmith.models.loading import load_model_and_tokenizer, load_tokenizer, reuse_loaded_models
from tunesmith.models.resolve import resolve_model

__all__ = [
    "resolve_model",
    "load_model_and_tokenizer",
    "load_tokenizer",
    "reuse_loaded_models",
    "resolve_device",
    "resolve_precision",
    "autocast_dtype",
    "set_threads",
]
