"""How shared files name their base model: exports (GGUF metadata, model cards) and saved
adapters (their README.md and adapter_config.json).

A recipe's `model.name` may be a local folder or .gguf path (/home/me/models/x), and the
folder a model is read from is a local path even for an alias: written into a GGUF's
general.name or a card's base_model it leaks the exporter's file system and means nothing to
whoever loads the file. They name the base model by its Hub id when tunesmith knows one (a
hub id, or an alias with one), else by its last path component.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from tunesmith.models.aliases import MODEL_ALIASES
from tunesmith.models.resolve import HUB_ID


def base_hub_id(model_name: str) -> str | None:
    """The base model's Hugging Face Hub id, when tunesmith knows it."""
    if model_name in MODEL_ALIASES:
        return MODEL_ALIASES.get(model_name).hub_id or None
    # a relative folder (models/tiny) looks like a hub id: what exists locally is a path,
    # as resolve_model decides
    local = Path(model_name).expanduser().exists()
    if HUB_ID.match(model_name) and not model_name.startswith((".", "/")) and not local:
        return model_name
    return None


def public_model_name(model_name: str) -> str:
    """`model_name` without any local path: its Hub id, an alias, or the last path component
    (a .gguf file's stem)."""
    hub = base_hub_id(model_name)
    if hub:
        return hub
    if model_name in MODEL_ALIASES:
        return model_name
    path = PurePath(model_name.rstrip("/\\"))
    return (path.stem if path.suffix == ".gguf" else path.name) or "model"


# The attribute a loaded base model carries its recipe `model.name` in (models/loading.py):
# a plain Python attribute, not a config field, so no saved config.json ever holds it.
RECIPE_NAME = "tunesmith_model_name"


def recipe_model_name(model) -> str | None:
    """The recipe's model.name `model` (or the base model under a peft wrapper) was loaded
    from, when tunesmith loaded it."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(inner, RECIPE_NAME, None)


def base_license(model_name: str) -> str | None:
    """The base model's licence identifier, when tunesmith knows it (an alias's)."""
    if model_name in MODEL_ALIASES:
        return MODEL_ALIASES.get(model_name).license.lower()
    return None
