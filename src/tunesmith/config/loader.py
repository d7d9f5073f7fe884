"""Load a YAML recipe into a `Recipe`, turning every mistake into one clear line."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, NamedTuple, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from tunesmith.artifacts.files import decode_text
from tunesmith.config.overrides import apply_overrides, override_for, quoting_hint
from tunesmith.config.recipe_yaml import read_yaml
from tunesmith.config.saved_splits import fill_own_splits
from tunesmith.config.schema import Recipe
from tunesmith.errors import UserError, suggest

PATH_FIELDS = (
    ("data", "train"),
    ("data", "validation"),
    ("data", "test"),
    ("evaluation", "previous_run"),
    ("training", "replay", "file"),
    ("pretrain", "replay", "file"),
)


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read, validate and resolve a recipe file (relative paths become absolute).

    `overrides` are `--set KEY=VALUE` strings applied before validation.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: recipe file not found")
    text = decode_text(path.read_bytes(), path)  # a BOM is fine, a bad byte names its line
    try:
        raw, root = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe is a YAML mapping of sections (task, data, ...)")
    return recipe_from_dict(raw, str(path), root, overrides, folder=path.parent.resolve())


def recipe_from_dict(
    raw: dict[str, Any],
    source: str = "recipe",
    yaml_root=None,
    overrides: list[str] | tuple[str, ...] = (),
    folder: Path | None = None,
) -> Recipe:
    """Validate a mapping into a `Recipe`, with key-path errors.

    `overrides` (`--set KEY=VALUE`) are applied first and relative paths resolved against
    `folder` (when given); an error caused by an override names that `--set`."""
    nul = _key_holding_nul(apply_overrides(raw, overrides))
    if nul is not None:
        line = _line_of(yaml_root, nul)
        where = override_for(nul, overrides) or (f"{source}:{line}" if line else source)
        raise UserError(
            f"{where}: {'.'.join(map(str, nul))}: holds a NUL byte (\\0), which no file name or "
            "recipe text may contain"
        )
    try:
        return Recipe.model_validate(_prepared(raw, overrides, folder))
    except ValidationError as exc:
        error = exc.errors()[0]
        path = _key_path(error["loc"])
        # a whole-recipe rule is shown at the line of the key its message names; the `--set`
        # to blame is the one that brings it in (replayed), not the one setting that key
        line = _line_of(yaml_root, path.keys or _leading_key(str(error["msg"])))
        where = _override_source(error, path.keys, raw, overrides, folder) or (
            f"{source}:{line}" if line else source
        )
        raise UserError(_describe(exc, path, where) + _structure_hint(error, where)) from None


def _structure_hint(error, where: str) -> str:
    """Text was wanted and a `--set` gave a value YAML reads as a mapping or list
    (`prompt_template={description}`): what YAML read, and how to quote it."""
    if error["type"] != "string_type" or not where.startswith("--set "):
        return ""
    text = where.removeprefix("--set ")
    kind = {dict: "a mapping", list: "a list"}.get(type(error["input"]))
    hint = quoting_hint(text)
    return f" (YAML reads {text.partition('=')[2]} as {kind}{hint})" if kind and hint else ""


def _key_holding_nul(value, keys: tuple = ()) -> tuple | None:
    """The key path of the first text holding a NUL byte: it is refused, not passed on, since
    every file call raises ValueError on one (a traceback, not an error naming the key)."""
    if isinstance(value, str):
        return keys if "\0" in value else None
    if isinstance(value, dict | list):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            found = _key_holding_nul(key, (*keys, key)) or _key_holding_nul(item, (*keys, key))
            if found is not None:
                return found
    return None


def _prepared(raw: dict[str, Any], overrides, folder: Path | None) -> dict[str, Any]:
    applied = apply_overrides(raw, overrides)
    if folder is not None:
        _resolve_paths(applied, folder)
    if isinstance(applied.get("data"), dict):  # a saved DatasetDict's own val/test splits
        fill_own_splits(applied["data"])
    return applied


def _override_source(error, keys: tuple, raw, overrides, folder) -> str | None:
    """The `--set` an error comes from, or None when the recipe file alone has it."""
    direct = override_for(keys, overrides)
    if direct or not overrides:
        return direct
    # Not inside a value a `--set` gave, yet maybe caused by one (`task.sub=1` turns `task`
    # into a mapping; `evaluation.metrics=[bleu]` leaves the target metric uncomputed):
    # replay the overrides one at a time and name the one that brings the error in.
    for count in range(len(overrides)):
        if _has_error(_prepared(raw, overrides[:count], folder), error):
            return f"--set {overrides[count - 1]}" if count else None
    return f"--set {overrides[-1]}"


def _has_error(raw: dict[str, Any], error) -> bool:
    """Whether the same check fails at the same place (not the same message: one such as
    'computed: rouge1, ...' names values that other overrides change)."""
    try:
        Recipe.model_validate(raw)
    except ValidationError as exc:
        return any((e["loc"], e["type"]) == (error["loc"], error["type"]) for e in exc.errors())
    return False


def _absolute(base: Path, name: str) -> str:
    """`name` made absolute from the recipe's folder, its symbolic links kept: a file's kind
    is read from its name, and a link into a content store (the Hugging Face hub cache,
    git-annex, DVC) points at a blob named by its hash, which Path.resolve() put in its place
    (`unsupported data format`, naming a file the user never wrote)."""
    return os.path.abspath(base / Path(name).expanduser())


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    for *sections, key in PATH_FIELDS:
        block = raw
        for section in sections:
            block = block.get(section) if isinstance(block, dict) else None
        if isinstance(block, dict) and isinstance(block.get(key), str):
            block[key] = _absolute(base, block[key])
    pretrain = raw.get("pretrain")
    if isinstance(pretrain, dict) and isinstance(pretrain.get("corpus"), str | list):
        corpus = pretrain["corpus"]
        paths = [corpus] if isinstance(corpus, str) else corpus
        pretrain["corpus"] = [_absolute(base, p) if isinstance(p, str) else p for p in paths]
    for block in _lexicon_blocks(raw):
        block["lexicon"] = _absolute(base, block["lexicon"])
    model = raw.get("model")
    name = model.get("name") if isinstance(model, dict) else model
    if isinstance(name, str) and (name.startswith((".", "/", "~")) or name.endswith(".gguf")):
        resolved = _absolute(base, name)
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


# A dotted recipe key at the start of a message, followed by a space or a colon
LEADING_KEY = re.compile(r"([a-z_]+(?:\.[a-z_0-9]+)*)[ :]")


def _leading_key(message: str) -> tuple[str, ...]:
    """The recipe key a whole-recipe rule's message starts with ('evaluation.target.metric
    'bleu' is not computed'): its line is the one to show, not the recipe's first."""
    match = LEADING_KEY.match(message.removeprefix("Value error, "))
    if match is None or match.group(1).split(".")[0] not in Recipe.model_fields:
        return ()
    return tuple(match.group(1).split("."))


def _describe(exc: ValidationError, path: _KeyPath, where: str) -> str:
    """The first validation error as 'where: key.path: problem (did you mean ...)'; a
    whole-recipe rule whose message starts with the key it is about as 'where: message'."""
    errors = exc.errors()
    parts = path.keys
    loc = [str(p) for p in parts]
    key_path = ".".join(loc) or "(top level)"
    if not loc and _leading_key(str(errors[0]["msg"])):
        return f"{where}: {str(errors[0]['msg']).removeprefix('Value error, ')}"
    if errors[0]["type"] == "extra_forbidden":
        known = list(path.section.model_fields) if path.section else []
        hint = suggest(loc[-1], known)
        tagged = parts[-2] if len(parts) > 1 else None
        if loc[-1] in getattr(tagged, "tags", ()):
            key = tagged.discriminator
            return (
                f"{where}: {key_path}: settings of {key} '{loc[-1]}', but "
                f"{loc[-2]}.{key} is '{tagged.tag}'"
            )
        return f"{where}: {key_path}: unknown key{hint}; allowed: {', '.join(known)}"
    if errors[0]["type"] == "missing":
        return f"{where}: {key_path}: required key is missing"
    alternatives = [e for e in errors[1:] if path.is_alternative(e["loc"])]
    # A value no member of a union accepts: say what each would have needed.
    here = [errors[0], *(e for e in alternatives if _key_path(e["loc"]).keys == parts)]
    message = " or ".join(dict.fromkeys(str(e["msg"]).removeprefix("Value error, ") for e in here))
    others = len(errors) - 1 - len(alternatives)
    more = f" (and {others} more)" if others else ""
    return f"{where}: {key_path}: {message}{more}"


class _KeyPath(NamedTuple):
    keys: tuple  # as written in the recipe; a key holding a union member is a `_Tagged`
    section: type[BaseModel] | None  # the section the last key was looked up in
    loc: tuple  # pydantic's own path
    member_names: frozenset[int]  # where `loc` names the union member pydantic tried

    def is_alternative(self, other: tuple) -> bool:
        """Whether the error at `other` is the same value failing as another union member
        (`search.space` is a mapping of ranges or 'default': one mistake, two errors)."""
        split = next((i for i, (a, b) in enumerate(zip(self.loc, other)) if a != b), None)
        return split in self.member_names


def _key_path(loc: tuple) -> _KeyPath:
    """The error's key path as the user wrote it.

    Pydantic's loc also names the union member it tried inside a value: a tag
    (`training.ia3.lora`) or a type (`search.space.dict[str,tagged-union[...]].x.float`).
    Those are dropped; a tag is kept on its key so messages can say which member it holds."""
    keys: list = []
    section, member_names = None, set()
    options, tag_key = [Recipe], None  # what the value at this point of the path may be
    for i, part in enumerate(loc):
        if len(options) > 1 and i - 1 not in member_names:  # pydantic names the member first
            member_names.add(i)
            if tag_key:
                tags = [_tag_of(m, tag_key) for m in options]
                keys[-1] = _Tagged(keys[-1], part, tag_key, tags)
                options = [m for m, tag in zip(options, tags) if tag == part]
            continue
        keys.append(part)
        section = next((m for m in options if _is_section(m)), None)
        inside = [found for m in options if (found := _inside(m, part)) is not None]
        options, tag_key = union_members(*inside[0]) if inside else ([], None)
    return _KeyPath(tuple(keys), section, loc, frozenset(member_names))


class _Tagged(str):
    """A key of the recipe that also remembers which union member it holds."""

    def __new__(cls, key, tag, discriminator, tags):
        obj = super().__new__(cls, key)
        obj.tag, obj.discriminator, obj.tags = tag, discriminator, tags
        return obj


def _tag_of(model: type[BaseModel], discriminator: str):
    return get_args(model.model_fields[discriminator].annotation)[0]


def _is_section(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _inside(annotation, part) -> tuple[Any, Any] | None:
    """(annotation, discriminator) of the value at `part` inside a value of `annotation`."""
    if _is_section(annotation):
        field = annotation.model_fields.get(str(part))
        return (field.annotation, field.discriminator) if field else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and args:
        return args[1], None
    if origin in (list, tuple) and args and isinstance(part, int):
        return args[0], None
    return None


def union_members(annotation, discriminator=None) -> tuple[list, str | None]:
    """The types a value of `annotation` may have (None aside), and the key that tags them."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extras = get_args(annotation)
        found = next((e.discriminator for e in extras if getattr(e, "discriminator", None)), None)
        return union_members(inner, discriminator or found)
    if origin in (Union, UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:  # `Section | None`: pydantic names no member
            return union_members(options[0], discriminator)
        return options, discriminator if isinstance(discriminator, str) else None
    return [annotation], None


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
