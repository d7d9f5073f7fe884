"""Check a method's `target_modules` against the model's module names before anything loads.

peft raises only once the model is loaded and the adapter is being built ("Target modules
{...} not found in the base model"), so a recipe or a search choice naming no module of the
model failed after the data stage, or as a failed trial. The module names come from the
safetensors headers of a local model folder (no weights are read); a model known only by a
hub id not yet fetched, or a GGUF file not yet converted, is not checked (peft still is).
"""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.errors import UserError, suggest

SHOWN = 12  # module names listed in the error line


def module_names(model_name: str) -> set[str] | None:
    """Every dotted prefix of every tensor name of the local model folder, or None."""
    from safetensors import SafetensorError

    from tunesmith.models import resolve_model

    folder = Path(resolve_model(model_name, fetch=False))
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not files:
        return None
    names: set[str] = set()
    try:
        keys = [key for file in files for key in _tensor_names(file)]
    except (SafetensorError, OSError, ValueError):
        return None  # a damaged file is the model check's to report, not this one's
    for key in keys:
        # all prefixes: a module is any of them (a quantised weight adds parts after
        # `.weight`), so matching stays as permissive as peft's own
        parts = key.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    if _tied(folder):
        names.add("lm_head")  # a tied output layer is not saved, yet it is a module
    return names


def _tensor_names(file: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(file), framework="numpy") as handle:
        return list(handle.keys())  # noqa: SIM118 (the handle is not iterable)


def _tied(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(isinstance(config, dict) and config.get("tie_word_embeddings"))


def matches(targets: list[str], name: str) -> bool:
    """peft's rule for a list of targets: the module's name is one, or ends with '.' + one."""
    return any(name == target or name.endswith(f".{target}") for target in targets)


def check_targets(recipe, names: set[str], source: str = "") -> str | None:
    """UserError when the training method's list `target_modules` matches no module name.

    A string (`all-linear`, a regular expression) is left to peft. Returns the ok line.
    """
    settings = recipe.training.settings()
    targets = getattr(settings, "target_modules", None)
    if not isinstance(targets, list) or not targets:
        return None
    key = f"training.{recipe.training.settings_key}.target_modules"
    if any(matches(targets, name) for name in names):
        return f"{key}: ok ({', '.join(targets)} found in the model)"
    leaves = sorted({name.rsplit(".", 2)[-2] for name in names if name.endswith(".weight")})
    hint = suggest(targets[0], leaves)
    where = f"{source}: " if source else ""
    shown = ", ".join(leaves[:SHOWN]) + (", ..." if len(leaves) > SHOWN else "")
    raise UserError(
        f"{where}{key}: {targets} match no module of model {recipe.model.name}{hint} "
        f"(its modules include {shown})"
    )


def check_recipe_targets(recipe, space: dict | None = None) -> list[str]:
    """The recipe's targets, then those of every value the search can pick (each categorical
    choice, each range's ends: a `training.method` choice changes the targets too)."""
    from tunesmith.config.overrides import override_recipe
    from tunesmith.config.space import candidate_values

    names = module_names(recipe.model.name)
    if names is None:
        return []
    line = check_targets(recipe, names)
    for key, dist in (space or {}).items():
        for value in candidate_values(dist):
            source = f"search.space '{key}'={value!r}"
            check_targets(override_recipe(recipe, {key: value}, source=source), names, source)
    return [line] if line else []
