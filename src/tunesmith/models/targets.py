"""Check a method's `target_modules` (fine-tuning's, and pre-training's LoRA) against the
model's modules before anything loads.

peft refuses target modules only once the model is loaded and the adapter is being built
(NoMatchingPeftModuleError, a traceback), so a recipe or a search choice naming no module of
the model failed after the data stage, as a failed trial, or as a failed group member. The
module names come from the architecture built on the meta device from config.json (no weights
read, about a second whatever the model's size), and matching is peft's own check, so the
pre-flight and the run never disagree. A model not yet fetched, a GGUF file not yet converted
or an architecture transformers cannot build here is not checked (peft still is).

The same skeleton serves the checks of layer types (`Method.check_layers`: LoHa has no layer
for GPT-2's Conv1D) and `adapted_modules` says which modules a target list reaches.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import UserError, suggest
from tunesmith.scoped_cache import ScopedCache

# model name -> its architecture on the meta device (no weight memory), kept while several
# recipes of one model are checked (preflight.shared_checks: a group's members)
MODULE_NAMES = ScopedCache()
SHOWN = 12  # module names listed in the error line
# peft's keyword for "every linear layer but the head": not a module name
PEFT_TARGET_KEYWORDS = ("all-linear",)


def model_skeleton(model_name: str):
    """The local model's architecture built on the meta device from config.json (its modules,
    no weights), or None when it cannot be known here."""
    return MODULE_NAMES.get(model_name, lambda: _local_skeleton(model_name))


def module_names(model_name: str) -> dict[str, bool] | None:
    """Every module's dotted name of the local model (-> whether it holds a weight matrix, the
    modules adapters usually target), or None when it cannot be known here."""
    skeleton = model_skeleton(model_name)
    return None if skeleton is None else names_of(skeleton)


def _local_skeleton(model_name: str):
    from tunesmith.models import resolve_model

    try:
        folder = Path(resolve_model(model_name, fetch=False))
    except UserError:
        return None  # the model check reports it
    if not (folder / "config.json").is_file():
        return None
    return _skeleton(folder)


def _skeleton(folder: Path):
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(folder))
    except Exception:  # transformers raises many types for an architecture it lacks
        return None
    return config_skeleton(config)


def config_skeleton(config):
    """The causal LM of transformers `config` on the meta device, or None when transformers
    cannot build it here."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config)
    except Exception:  # transformers raises many types for an architecture it lacks
        return None


def adapted_modules(model, targets: str | list[str]) -> list[tuple[str, object]]:
    """(name, module) of every module of `model` (loaded or a skeleton) that peft adapts for
    `target_modules=targets`: 'all-linear' as peft expands it (nn.Linear and transformers'
    Conv1D layers but the output head), else peft's own name matching."""
    from transformers.pytorch_utils import Conv1D

    modules = [(name, module) for name, module in model.named_modules() if name]
    if targets in PEFT_TARGET_KEYWORDS:
        import torch

        head = model.get_output_embeddings()
        linear = (torch.nn.Linear, Conv1D)
        return [(n, m) for n, m in modules if isinstance(m, linear) and m is not head]
    matches = _matcher(targets)
    return [(name, module) for name, module in modules if matches(name)]


def names_of(model) -> dict[str, bool]:
    """Every module's dotted name of a built model -> whether it holds a weight matrix."""
    return {
        name: getattr(getattr(module, "weight", None), "ndim", 0) == 2
        for name, module in model.named_modules()
        if name
    }


def _matcher(target: str | list[str]):
    """`name -> bool`: whether peft adapts module `name` for `target_modules=target` (a string
    is a regular expression on the whole name; a list entry the name or its last parts)."""
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    config = LoraConfig(target_modules=target)
    return lambda name: bool(check_target_module_exists(config, name))


def adapted_targets(recipe) -> list[tuple[str, str | list[str]]]:
    """(recipe key, target_modules) of every adapter the recipe trains whose targets name
    modules: fine-tuning's method, and pre-training's LoRA (`pretrain.lora`), which peft builds
    on the same model. `all-linear` and peft's defaults name none: nothing to check."""
    parts = [(f"training.{recipe.training.settings_key}", recipe.training.settings())]
    if recipe.pretrain is not None:
        parts.append((f"pretrain.{recipe.pretrain.method}", recipe.pretrain.settings()))
    found = [(f"{key}.target_modules", named_targets(settings)) for key, settings in parts]
    return [(key, targets) for key, targets in found if targets is not None]


def named_targets(settings) -> str | list[str] | None:
    """A method's settings' target_modules when they name modules (None: nothing to check)."""
    targets = getattr(settings, "target_modules", None)
    return None if not targets or targets in PEFT_TARGET_KEYWORDS else targets


def check_targets(
    key: str, targets: str | list[str], model: str, names: dict[str, bool], source: str = ""
) -> str:
    """UserError naming the entries of `targets` (the recipe's `key`) that match no module of
    `model` (each list entry must match one: peft drops an unmatched entry silently while
    another matches, so a typo would shrink the adapter unseen). Returns the ok line."""
    entries = targets if isinstance(targets, list) else [targets]
    unmatched = [t for t in entries if not any(map(_matcher(_like(targets, t)), names))]
    if not unmatched:
        return f"{key}: ok ({', '.join(entries)} found in the model)"
    hint = suggest(unmatched[0], _leaves(names))
    what = unmatched if isinstance(targets, list) else repr(targets)
    where = f"{source}: " if source else ""
    raise UserError(
        f"{where}{key}: {what} match no module of model {model}{hint} "
        f"(its weight-matrix modules: {weight_modules(names)})"
    )


def weight_modules(names: dict[str, bool]) -> str:
    """The distinct weight-matrix module names (q_proj, ...), the first SHOWN of them."""
    weighted = _leaves(n for n, has_matrix in names.items() if has_matrix)
    return ", ".join(weighted[:SHOWN]) + (", ..." if len(weighted) > SHOWN else "")


def _leaves(names) -> list[str]:
    """The distinct last parts of module names (q_proj, mlp; not layer numbers)."""
    return sorted({n.rsplit(".", 1)[-1] for n in names if not n.rsplit(".", 1)[-1].isdigit()})


def _like(targets: str | list[str], entry: str) -> str | list[str]:
    # a list entry is matched as a one-entry list (name or suffix), a string as a regex
    return [entry] if isinstance(targets, list) else entry


def check_recipe_targets(recipe, space: dict | None = None) -> list[str]:
    """The recipe's targets (fine-tuning's and pre-training's), then those of every value the
    search can pick (each categorical choice, each range's ends: a `training.method` choice
    changes the targets too); the ok lines are the recipe's own."""
    from tunesmith.config.space import candidate_recipes

    checks = [
        (key, targets, r.model.name, source)
        for r, source in candidate_recipes(recipe, space)
        for key, targets in adapted_targets(r)
    ]
    # the architecture is built only when some target names modules (not for `all-linear`)
    names = module_names(recipe.model.name) if checks else None
    if names is None:
        return []
    lines = [check_targets(key, t, model, names, source) for key, t, model, source in checks]
    return [line for line, check in zip(lines, checks, strict=True) if check[3] == ""]
