"""Recipe schemas (pydantic) and loading. A leaf: imports neither torch nor transformers."""

from tunesmith.config.loader import dump_recipe, load_recipe, recipe_hash
from tunesmith.config.schema import Recipe

__all__ = ["Recipe", "load_recipe", "dump_recipe", "recipe_hash"]
