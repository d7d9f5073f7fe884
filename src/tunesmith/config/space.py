"""Resolve and check a recipe's search space before anything runs.

Every key must be a recipe key, every range non-empty, and every value the search can pick
(each choice, each range's ends) must make a recipe the schema accepts.
"""

from __future__ import annotations

from typing import Any

from tunesmith.config.overrides import override_recipe
from tunesmith.config.schema import Recipe
from tunesmith.config.search import DEFAULT_SPACES, Categorical, Distribution, SearchConfig
from tunesmith.errors import UserError


def resolve_space(recipe: Recipe) -> dict[str, Distribution]:
    """The recipe's search space, with 'default' replaced by the method's shipped space."""
    search = recipe.search or SearchConfig()
    if search.space != "default":
        return dict(search.space)
    method = recipe.training.method
    if method not in DEFAULT_SPACES:
        raise UserError(f"search.space: no default space for training.method '{method}'")
    return dict(SearchConfig(space=DEFAULT_SPACES[method]).space)


def candidate_values(dist: Distribution) -> list[Any]:
    """The values that bound what the search can pick: every choice, or both range ends."""
    if isinstance(dist, Categorical):
        return list(dist.choices)
    return [dist.low, dist.high]


def candidate_recipes(recipe: Recipe, space: dict | None) -> list[tuple[Recipe, str]]:
    """(recipe, source) of the recipe itself (source '') and of every value the search can
    pick (`candidate_values`, one key at a time), the source naming the key and value: what a
    pre-flight check of the model runs on, so a choice is refused like the recipe's own."""
    return [(recipe, "")] + [
        (override_recipe(recipe, {key: value}, source=source), source)
        for key, dist in (space or {}).items()
        for value in candidate_values(dist)
        for source in [f"search.space '{key}'={value!r}"]
    ]


def check_space(recipe: Recipe) -> dict[str, Distribution]:
    """Raise a one-line UserError for the first key or value the schema rejects."""
    space = resolve_space(recipe)
    if not space:
        raise UserError("search.space: empty; name at least one recipe key to search")
    for key in space:
        if key.split(".")[0] == "search":
            raise UserError(f"search.space.{key}: the search cannot search itself")
    # the loader's own error line names the key and value, and why the value is rejected
    candidate_recipes(recipe, space)
    return space
