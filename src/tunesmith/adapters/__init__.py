"""Adapter methods: a name -> function building the PEFT config (one file per method)."""

from tunesmith.adapters import full, lora  # noqa: F401  (register the methods)
from tunesmith.adapters.registry import ADAPTERS, apply_adapter

__all__ = ["ADAPTERS", "apply_adapter"]
