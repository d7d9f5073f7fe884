"""`--set KEY=VALUE` recipe overrides: the one function every recipe-reading command uses.

Values are parsed as YAML scalars or lists (`8`, `true`, `[q_proj, v_proj]`, `null`; a value
YAML would read only part of, `###` or `Answer #1`, is the text as typed), applied
to the raw mapping before validation, so a wrong key or value gets the loader's usual
key-path error and suggestion, naming the `--set` it came from instead of a file line.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tunesmith.config.recipe_yaml import read_yaml
from tunesmith.errors import UserError

NULL_TAG = "tag:yaml.org,2002:null"


def parse_override(text: str) -> tuple[list[str], Any]:
    """'training.lora.r=8' -> (['training', 'lora', 'r'], 8)."""
    key, sep, value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise UserError(
            f"--set {text}: expected KEY=VALUE with a dotted key, e.g. training.epochs=2"
        )
    try:
        parsed = parse_value(value)
    except yaml.YAMLError:
        raise UserError(
            f"--set {text}: the value is not a YAML scalar or list{quoting_hint(text)}"
        ) from None
    return parts, parsed


def quoting_hint(text: str) -> str:
    """How to pass a `--set` value that YAML reads as structure (a template's `{field}` is a
    mapping to YAML) as the text typed."""
    key, _, value = text.partition("=")
    if not value.lstrip().startswith(("{", "[")):
        return ""
    return f"; to pass it as text, quote it: --set '{key}=\"{value}\"'"


def parse_value(text: str) -> Any:
    """A `--set` value: its YAML reading, or the text as typed (stripped) when YAML would skip
    part or all of it. On a command line `#` is text, never a YAML comment: `stop=###` was null
    and `prompt_template=Answer #1` was 'Answer', without a word; `---` (a document marker) was
    null too. An empty value is the empty string. Raises yaml.YAMLError for what YAML refuses."""
    value, root = read_yaml(text) if text.strip() else ("", None)
    if _reads_nothing(root) or _skips_text(text):
        return text.strip()
    return value


def _reads_nothing(root: yaml.Node | None) -> bool:
    """No node, or the empty one a bare `---` stands for (`~` and `null` are written out)."""
    empty = isinstance(root, yaml.ScalarNode) and root.value == "" and root.style is None
    return root is None or (empty and root.tag == NULL_TAG)


def _skips_text(text: str) -> bool:
    """Whether YAML passes over text of `text` that no token holds (a comment)."""
    unread = list(text)
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        unread[token.start_mark.index : token.end_mark.index] = " " * (
            token.end_mark.index - token.start_mark.index
        )
    return bool("".join(unread).strip())


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A copy of the raw recipe mapping with every `KEY=VALUE` applied, in order."""
    result = copy.deepcopy(raw)
    before = _method_in(result)
    given = set()
    for text in overrides:
        parts, value = parse_override(text)
        set_by_path(result, parts, value, f"--set {text}")
        given.add(tuple(parts[:2]))
    _drop_other_method_settings(result, before, given)
    return result


def _method_in(raw: dict[str, Any]) -> str:
    training = raw.get("training")
    return training.get("method", "lora") if isinstance(training, dict) else "lora"


def _drop_other_method_settings(raw: dict[str, Any], before: str, given: set) -> None:
    """`--set training.method=full` on a recipe with a `lora:` section: that section belongs
    to the method replaced and would be an error under the new one (as tune and group drop it,
    override_recipe below); kept when a `--set` gave it explicitly."""
    after = _method_in(raw)
    key = _settings_key(before)
    if after != before and key and ("training", key) not in given:
        raw["training"].pop(key, None)


def _settings_key(method: str) -> str | None:
    """The training section holding `method`'s own settings (lora: `lora`; full: none)."""
    import typing

    from tunesmith.config.training import TrainingBase

    for cls in TrainingBase.__subclasses__():
        if method in typing.get_args(cls.model_fields["method"].annotation):
            return cls.settings_key
    return None


def set_by_path(raw: dict[str, Any], parts: list[str], value: Any, source: str) -> None:
    """`raw[a][b][c] = value` for parts [a, b, c], creating missing sections."""
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if isinstance(child, str) and not isinstance(value, dict):
            child = node[part] = {"name": child}  # `model: alias` shorthand
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise UserError(f"{source}: {where} is a value, not a section")
        node = child
    node[parts[-1]] = value


def override_recipe(recipe, values: dict[str, Any], source: str = "override"):
    """A new validated recipe: `recipe` with each dotted key set (drivers: tune, groups).

    The same path-setting as `--set`, on the resolved recipe; errors name `source`."""
    from tunesmith.config.loader import recipe_from_dict

    raw = copy.deepcopy(recipe.model_dump(mode="json"))
    method = values.get("training.method")
    if method is not None and method != recipe.training.method:
        # Another method: the current one's own settings would be an error under it.
        raw["training"].pop(recipe.training.settings_key or "", None)
    for key, value in values.items():
        set_by_path(raw, key.split("."), value, source)
    return recipe_from_dict(raw, source=source)


def override_for(loc: tuple, overrides: list[str] | tuple[str, ...]) -> str | None:
    """The last `--set` whose key is `loc` or one of its parents (the error's source)."""
    path = [str(p) for p in loc]
    for text in reversed(overrides):
        parts, _ = parse_override(text)
        if path and path[: len(parts)] == parts:
            return f"--set {text}"
    return None
