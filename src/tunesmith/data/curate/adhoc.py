"""Curation of one file without a recipe (`tunesmith data curate FILE ...`), and the helpers
the CLI shares with recipe mode: step lists and `--set step.option=value` overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tunesmith.config.curation import CurationConfig
from tunesmith.config.overrides import parse_value
from tunesmith.data.curate.pipeline import CurationContext, post_split, pre_split
from tunesmith.data.curate.rows import is_messages, is_text
from tunesmith.data.examples import field_value
from tunesmith.data.io import SOURCE_KEYS, read_records, record_number
from tunesmith.errors import UserError, suggest

STEP_KEYS = tuple(CurationConfig.model_fields)
SAMPLE_ROWS = 1000  # rows looked at for a field's presence and shape
NO_ID = object()  # a record of the file without an `id` of its own


def curation_config(
    steps: list[str], overrides: list[str], base: CurationConfig | None = None
) -> CurationConfig:
    """The config that runs `steps` (recipe values as the base, else defaults) with overrides."""
    raw: dict[str, Any] = {}
    for step in steps:
        if step not in STEP_KEYS:
            raise UserError(
                f"--steps: unknown step '{step}'{suggest(step, STEP_KEYS)}; "
                f"known: {', '.join(STEP_KEYS)}"
            )
        current = getattr(base, step, None) if base is not None else None
        raw[step] = current.model_dump() if current is not None else {}
    for item in overrides:
        path, value = _parse_override(item)
        if path[0] not in raw:
            raise UserError(f"--set {item}: step '{path[0]}' is not among the steps to run")
        target = raw[path[0]]
        for key in path[1:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else target
            if not isinstance(target, dict):
                raise UserError(f"--set {item}: '{key}' is not a section")
        target[path[-1]] = value
    try:
        return CurationConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown option"
        raise UserError(f"--set {where}: {message}") from None


def _parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, text = item.partition("=")
    if not sep or not key.strip() or "." not in key:
        raise UserError(f"--set {item}: expected step.option=value (e.g. pii.mode=mask)")
    try:
        value = parse_value(text)
    except yaml.YAMLError:
        value = text
    return [p.strip() for p in key.split(".")], value


@dataclass
class FileShape:
    """What `rows_from_file` changed in the rows for curation, undone by `in_file_shape`:
    ShareGPT fields read as chat messages, nested fields (a dotted path such as meta.body)
    lifted to a top-level key of that whole name, and the string `id` every row gets (`ids`:
    curation id -> the record's own id, NO_ID when it had none)."""

    sharegpt: list[str] = field(default_factory=list)
    nested: list[str] = field(default_factory=list)
    ids: dict[str, Any] = field(default_factory=dict)


def rows_from_file(path: str | Path, fields: list[str] | None, label_field: str | None):
    """(rows with an `id`, text fields, their FileShape) from a data file; default fields: its
    text columns. A ShareGPT field ([{from, value}]) is curated as the chat messages it holds
    (`as_messages`); a dotted name no record has as a whole names a nested field, as in the data
    stage, curated as a top-level key of that name. `in_file_shape` gives rows their shape back."""
    records = read_records(path)
    present = [k for k in records[0] if k not in SOURCE_KEYS]
    sharegpt = [k for k in present if _is_sharegpt(_first_value(records, k))]
    if not fields:
        fields = [
            k
            for k in present
            if k not in ("id", label_field) and (is_text(_first_value(records, k)) or k in sharegpt)
        ]
    named = [*fields, *([label_field] if label_field else [])]
    nested = [n for n in named if "." in n and not any(n in r for r in records)]
    for name in named:
        if not any(field_value(r, name)[0] for r in records[:SAMPLE_ROWS]):
            raise UserError(
                f"{path}: field '{name}' not found{suggest(name, present)}; "
                f"fields present: {', '.join(present)}"
            )
    sharegpt = [name for name in sharegpt if name in fields]
    for name in fields:
        value = _first_value(records, name)
        if isinstance(value, (list, dict)) and not is_text(value) and name not in sharegpt:
            raise UserError(
                f"{path}: field '{name}' holds no text ({type(value).__name__}); a text field "
                "holds a string, a list of strings or chat messages [{role, content}] (or "
                "ShareGPT's [{from, value}])"
            )
    ids = [r.get("id") for r in records]
    keep_ids = all(i is not None for i in ids) and len(set(map(str, ids))) == len(ids)
    rows, own_ids = [], {}
    for index, record in enumerate(records):
        row = {k: v for k, v in record.items() if k not in SOURCE_KEYS}
        row["id"] = str(record["id"]) if keep_ids else f"line-{record_number(record, index)}"
        own_ids[row["id"]] = record.get("id", NO_ID)
        row.update(_lifted(record, nested))
        rows.append(
            {**row, **{f: as_messages(row[f]) for f in sharegpt if _is_sharegpt(row.get(f))}}
        )
    return rows, fields, FileShape(sharegpt, nested, own_ids)


def _lifted(record: dict, nested: list[str]) -> dict:
    """The record's nested fields under their dotted names (a record without one: none)."""
    values = {name: field_value(record, name) for name in nested}
    return {name: value for name, (found, value) in values.items() if found}


def in_file_shape(rows: list[dict], shape: FileShape) -> list[dict]:
    """Curated rows in the shape the file had: ShareGPT turns, nested fields at their path, each
    row's own id (none when it had none; a copy `augment` or `balance` added keeps the id that
    names its source row)."""
    rows = [_nest(row, shape.nested) for row in with_sharegpt(rows, shape.sharegpt)]
    return [_own_id(row, shape.ids) for row in rows]


def _own_id(row: dict, ids: dict[str, Any]) -> dict:
    """`row` with the id its record had in the file (its value and type, or no id at all)."""
    if row.get("id") not in ids:
        return row
    own = ids[row["id"]]
    if own is NO_ID:
        return {k: v for k, v in row.items() if k != "id"}
    return {**row, "id": own}


def _nest(row: dict, nested: list[str]) -> dict:
    """A copy of `row` with each lifted field written back at its path, the objects on the way
    copied (their other keys kept as they were). A path that crosses a value that is not an
    object (the field was missing and `clean.fill` filled it) keeps its dotted key: writing
    it would replace that value."""
    new = dict(row)
    for name in nested:
        if name not in new:
            continue
        *parents, last = name.split(".")
        target = new
        for key in parents:
            child = target.get(key, {})
            if not isinstance(child, dict):
                break
            target[key] = target = dict(child)
        else:
            target[last] = new.pop(name)
    return new


def _is_sharegpt(value: Any) -> bool:
    """A ShareGPT conversation: a non-empty list of {from, value} objects."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and "from" in m and "value" in m for m in value)
    )


def as_messages(conversation: list[dict]) -> list[dict]:
    """ShareGPT turns as the {role, content} messages curation reads (human: user, gpt:
    assistant, as the data stage maps them); every other key, `from` included, stays."""
    from tunesmith.data.examples import SHAREGPT_ROLES

    return [
        {**m, "role": SHAREGPT_ROLES.get(m["from"], m["from"]), "content": m["value"]}
        for m in conversation
    ]


def as_sharegpt(messages: list[dict]) -> list[dict]:
    """`as_messages` undone: the curated content back in `value`, the role dropped."""
    return [
        {**{k: v for k, v in m.items() if k not in ("role", "content")}, "value": m["content"]}
        for m in messages
    ]


def with_sharegpt(rows: list[dict], sharegpt: list[str]) -> list[dict]:
    """Curated rows with their ShareGPT fields in the shape the file had."""
    return [
        {**row, **{f: as_sharegpt(row[f]) for f in sharegpt if is_messages(row.get(f))}}
        for row in rows
    ]


def _first_value(records: list[dict], name: str):
    """The field's first value that is not null or an empty list (the shape of its column)."""
    for record in records[:SAMPLE_ROWS]:
        value = field_value(record, name)[1]
        if value is not None and value != []:
            return value
    return None


def curate_rows(
    rows: list[dict], config: CurationConfig, ctx: CurationContext
) -> tuple[list[dict], dict]:
    """All configured steps on one file's rows (treated as the training split). (rows, card)."""
    kept, funnel = pre_split(rows, config, ctx)
    splits, more, card = post_split({"train": kept}, config, ctx)
    card.pop("leakage", None)  # one file: there is nothing to leak into
    card.pop("split_overlap", None)
    return splits["train"], {
        "sizes": {"output": len(splits["train"])},
        "funnel": funnel + [entry for entry in more if entry["step"] != "leakage"],
        **card,
    }


def model_loaders(model: str | None) -> tuple[Any, Any]:
    """(load_tokenizer, load_model) for a model name, or (None, None)."""
    if not model:
        return None, None
    from tunesmith.config.schema import ModelConfig

    config = ModelConfig(name=model)

    def tokenizer():
        from tunesmith.models import load_tokenizer

        return load_tokenizer(config)

    def model_and_tokenizer():
        from tunesmith.models import load_model_and_tokenizer

        return load_model_and_tokenizer(config)

    return tokenizer, model_and_tokenizer
