"""Compose a recipe from a base recipe and dotted-key overrides ("training.lora.r" = 8).

Minimal stand-in for the project's one override function (see the `stages` branch's
`apply_overrides`); drivers (tune/) use only `set_by_path` and `override_recipe`.
"""

from __future__ import annotations

import copy
from typing import Any

from tunesmith.config.loader import recipe_from_dict
from tunesmith.config.schema import Recipe


def set_by_path(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set `raw[a][b][c] = value` for key 'a.b.c', creating missing mappings."""
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def override_recipe(recipe: Recipe, values: dict[str, Any], source: str = "override") -> Recipe:
    """A new validated recipe: `recipe` with each dotted key set (loader's error lines)."""
    raw = copy.deepcopy(recipe.model_dump(mode="json"))
    for key, value in values.items():
        set_by_path(raw, key, value)
    return recipe_from_dict(raw, source=source)
