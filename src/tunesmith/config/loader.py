"""Load a YAML recipe into a `Recipe`, turning every mistake into one clear line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from tunesmith.config.overrides import apply_overrides, override_for
from tunesmith.config.recipe_yaml import read_yaml
from tunesmith.config.schema import Recipe
from tunesmith.errors import UserError, suggest

PATH_FIELDS = (
    ("data", "train"),
    ("data", "validation"),
    ("data", "test"),
    ("evaluation", "previous_run"),
    ("training", "replay", "file"),
)


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read, validate and resolve a recipe file (relative paths become absolute).

    `overrides` are `--set KEY=VALUE` strings applied before validation.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: recipe file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        raw, root = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe is a YAML mapping of sections (task, data, ...)")
    raw = apply_overrides(raw, overrides)
    _resolve_paths(raw, path.parent.resolve())
    return recipe_from_dict(raw, source=str(path), yaml_root=root, overrides=overrides)


def recipe_from_dict(
    raw: dict[str, Any], source: str = "recipe", yaml_root=None, overrides=()
) -> Recipe:
    """Validate a mapping into a `Recipe`, with key-path errors."""
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise UserError(_describe(exc, source, yaml_root, overrides)) from None


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    for *sections, key in PATH_FIELDS:
        block = raw
        for section in sections:
            block = block.get(section) if isinstance(block, dict) else None
        if isinstance(block, dict) and isinstance(block.get(key), str):
            block[key] = str((base / block[key]).resolve())
    pretrain = raw.get("pretrain")
    if isinstance(pretrain, dict) and isinstance(pretrain.get("corpus"), str | list):
        corpus = pretrain["corpus"]
        paths = [corpus] if isinstance(corpus, str) else corpus
        pretrain["corpus"] = [str((base / p).resolve()) if isinstance(p, str) else p for p in paths]
    for block in _lexicon_blocks(raw):
        block["lexicon"] = str((base / block["lexicon"]).resolve())
    model = raw.get("model")
    name = model.get("name") if isinstance(model, dict) else model
    if isinstance(name, str) and (name.startswith((".", "/", "~")) or name.endswith(".gguf")):
        resolved = str((base / Path(name).expanduser()).resolve())
        if isinstance(model, dict):
            model["name"] = resolved
        else:
            raw["model"] = resolved


def _lexicon_blocks(raw: dict[str, Any]) -> list[dict]:
    """The recipe blocks naming a swap lexicon file (checks.bias, data.curation.counterfactual)."""
    found = []
    for path in (("checks", "bias"), ("data", "curation", "counterfactual")):
        block: Any = raw
        for key in path:
            block = block.get(key) if isinstance(block, dict) else None
        if isinstance(block, dict) and isinstance(block.get("lexicon"), str):
            found.append(block)
    return found


def _describe(exc: ValidationError, source: str, yaml_root, overrides=()) -> str:
    """The first validation error as 'file:line: key.path: problem (did you mean ...)'."""
    err = exc.errors()[0]
    parts = _without_tags(err["loc"])
    loc = [str(p) for p in parts]
    key_path = ".".join(loc) or "(top level)"
    line = _line_of(yaml_root, parts)
    where = override_for(parts, overrides) or (f"{source}:{line}" if line else source)
    if err["type"] == "extra_forbidden":
        known = _known_keys(parts[:-1])
        hint = suggest(loc[-1], known)
        tagged = parts[-2] if len(parts) > 1 else None
        if loc[-1] in getattr(tagged, "tags", ()):
            key = tagged.discriminator
            return (
                f"{where}: {key_path}: settings of {key} '{loc[-1]}', but "
                f"{loc[-2]}.{key} is '{tagged.tag}'"
            )
        return f"{where}: {key_path}: unknown key{hint}; allowed: {', '.join(known)}"
    if err["type"] == "missing":
        return f"{where}: {key_path}: required key is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {key_path}: {message}{more}"


def _without_tags(loc: tuple) -> tuple:
    """The error's key path without pydantic's union tags (`training.ia3.lora` ->
    `training.lora`), each tag kept on its key so `_known_keys` follows the chosen member."""
    clean, model = [], Recipe
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        field = model.model_fields.get(str(part)) if model else None
        clean.append(part)
        models = _models_of(field)
        if field is not None and field.discriminator and parts:
            tag, key = parts.pop(0), field.discriminator
            clean[-1] = _Tagged(part, tag, key, [_tag_of(m, key) for m in models])
            models = [m for m in models if _tag_of(m, key) == tag]
        model = models[0] if models else None
    return tuple(clean)


class _Tagged(str):
    """A key of the recipe that also remembers which union member it holds."""

    def __new__(cls, key, tag, discriminator, tags):
        obj = super().__new__(cls, key)
        obj.tag, obj.discriminator, obj.tags = tag, discriminator, tags
        return obj


def _tag_of(model: type[BaseModel], discriminator: str):
    return get_args(model.model_fields[discriminator].annotation)[0]


def _models_of(field) -> list[type[BaseModel]]:
    annotation = getattr(field, "annotation", None)
    # `Section | None` (optional curation steps) and tagged unions: look inside the union
    options = [a for a in get_args(annotation) or (annotation,) if isinstance(a, type)]
    return [a for a in options if issubclass(a, BaseModel)]


def _known_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = Recipe
    for part in loc:
        field = model.model_fields.get(str(part))
        models = _models_of(field)
        tag = getattr(part, "tag", None)
        if tag is not None:
            models = [m for m in models if _tag_of(m, field.discriminator) == tag]
        if not models:
            return []
        model = models[0]
    return list(model.model_fields)


def _line_of(node, loc) -> int | None:
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        child = next(((k, v) for k, v in node.value if k.value == str(part)), None)
        if child is None:
            break
        line = child[0].start_mark.line + 1
        node = child[1]
    return line


def dump_recipe(recipe: Recipe) -> str:
    """The fully resolved recipe as YAML (every default written out)."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def recipe_hash(*parts: BaseModel | str | None) -> str:
    """A stable hash of recipe sections, for skip-if-unchanged."""
    payload = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
