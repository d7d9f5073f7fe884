"""The adapter registry and the one call stages use to wrap a model."""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.registry import Registry

ADAPTERS: Registry[Callable] = Registry("adapter method")


def apply_adapter(model, training_config):
    """Wrap `model` with the configured adapter (a peft PeftModel)."""
    from peft import get_peft_model

    build_config = ADAPTERS.get(training_config.method)
    return get_peft_model(model, build_config(training_config))
