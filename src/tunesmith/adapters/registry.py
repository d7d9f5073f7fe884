"""The adapter registry and the one call stages use to make a model trainable."""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.registry import Registry

# name -> fn(model, training_config) -> the model to train (e.g. a peft PeftModel)
ADAPTERS: Registry[Callable] = Registry("training method")


def apply_adapter(model, training_config):
    """Wrap or unfreeze `model` as the configured method says."""
    return ADAPTERS.get(training_config.method)(model, training_config)
