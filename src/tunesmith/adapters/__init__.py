"""Adapter methods: a name -> function building the PEFT config (one file per method)."""

from tunesmith.adapters import lora  # noqa: F401  (registers "lora")
from tunesmith.adapters.registry import ADAPTERS, apply_adapter

__all__ = ["ADAPTERS", "apply_adapter"]
