"""An edit form generated from `Recipe.model_json_schema()`: one input per key, the field
descriptions as help. Values go back through the recipe's own validation."""

from __future__ import annotations

from typing import Any

import yaml

from tunesmith.config.recipe_yaml import read_yaml
from tunesmith.errors import UserError

FIELD_PREFIX = "f:"


def recipe_fields(values: dict[str, Any]) -> list[dict]:
    """Form rows for every key: {key, kind (text|select|yaml), options, help, value, section}."""
    from tunesmith.config import Recipe

    schema = Recipe.model_json_schema()
    rows: list[dict] = []
    _walk(schema, schema, "", values, rows)
    return rows


def _walk(schema: dict, node: dict, prefix: str, values: dict, rows: list[dict]) -> None:
    for name, prop in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        value = values.get(name) if isinstance(values, dict) else None
        target = _deref(schema, _member(prop, value))
        if "properties" in target:  # a section: one row per key inside it
            rows.append({"section": key, "help": target.get("description", "")})
            _walk(schema, target, f"{key}.", value or {}, rows)
        else:
            rows.append(_leaf(key, prop, target, value))


def _leaf(key: str, prop: dict, target: dict, value: Any) -> dict:
    help_text = prop.get("description") or target.get("description", "")
    enum = target.get("enum")
    if enum:
        return _row(key, "select", help_text, str(value), [str(v) for v in enum])
    if target.get("type") == "boolean":
        return _row(key, "select", help_text, str(bool(value)).lower(), ["true", "false"])
    if target.get("type") in ("string", "number", "integer") or _scalar_union(target):
        shown = "" if value is None else str(value)
        kind = "string" if _textual(target) else "text"
        return _row(key, kind, help_text, shown, None)
    return _row(key, "yaml", help_text, _yaml_text(value), None)


def _yaml_text(value: Any) -> str:
    """`value` in flow-style YAML, as a user would type it into the form."""
    text = yaml.dump(
        value, Dumper=_FormDumper, sort_keys=False, allow_unicode=True, default_flow_style=True
    )
    return text.strip().removesuffix("...").strip()


class _FormDumper(yaml.SafeDumper):
    """Strings holding a line break or another control character in double quotes (`"\\n"`):
    PyYAML's default single quotes write a line break as a blank line inside the quotes, which
    round-trips but reads as nothing (e.g. the stop strings `["\\n"]`)."""

    def represent_str(self, data: str):
        if any(ch < " " or ch == "\x7f" for ch in data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)


_FormDumper.add_representer(str, _FormDumper.represent_str)


def _row(key: str, kind: str, help_text: str, value: str, options) -> dict:
    return {"key": key, "kind": kind, "help": help_text, "value": value, "options": options}


def _textual(target: dict) -> bool:
    """A string key, or an optional one (string | null): its text is kept as typed."""
    types = {o.get("type") for o in target.get("anyOf") or [target]}
    return "string" in types and not types & {"number", "integer", "boolean"}


def _scalar_union(target: dict) -> bool:
    options = target.get("anyOf") or []
    scalar = ("string", "number", "integer", "null", "boolean")
    return bool(options) and all(o.get("type") in scalar for o in options)


def _member(prop: dict, value: Any) -> dict:
    """A discriminated union (`training`, by its `method`): the member the value chose, else
    the first (the default method); the form then shows that member's keys."""
    union = prop.get("discriminator")
    if not union or "oneOf" not in prop:
        return prop
    chosen = value.get(union["propertyName"]) if isinstance(value, dict) else None
    mapping = union.get("mapping", {})
    return {"$ref": mapping[chosen]} if chosen in mapping else prop["oneOf"][0]


def _deref(schema: dict, prop: dict) -> dict:
    ref = prop.get("$ref")
    if ref:
        return schema["$defs"][ref.rsplit("/", 1)[-1]]
    return prop


def values_from_form(form: dict[str, str], fields: list[dict]) -> dict[str, Any]:
    """The nested recipe mapping the submitted form describes (strings parsed per kind)."""
    raw: dict[str, Any] = {}
    for field in fields:
        if "key" not in field:
            continue
        text = form.get(FIELD_PREFIX + field["key"], field["value"])
        _assign(raw, field["key"].split("."), _parse(field, text))
    return raw


def _parse(field: dict, text: str) -> Any:
    if field["kind"] == "string":
        return text if text or field["value"] else None
    if field["kind"] == "select" and field["options"] != ["true", "false"]:
        return text
    try:
        return read_yaml(text)[0] if text.strip() else None
    except yaml.YAMLError:
        raise UserError(f"{field['key']}: {text[:60]!r} is not a valid YAML value") from None


def _assign(raw: dict, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        raw = raw.setdefault(part, {})
    raw[path[-1]] = value
