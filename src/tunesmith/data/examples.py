"""Map raw records to tunesmith's normalized examples, per task.

Normalized examples (what data/{train,val,test}.jsonl hold):
- summarization / instruction / classification: {id, prompt, response[, system]}
  (classification also keeps `label`, equal to `response`)
- chat: {id, messages: [{role, content}, ...]}
- completion: {id, text}
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tunesmith.config.label_text import label_text
from tunesmith.config.schema import Recipe
from tunesmith.config.tasks import task_spec
from tunesmith.config.template import plain_fields, section_fields
from tunesmith.data.curate.rows import content_of
from tunesmith.data.io import SOURCE_KEYS, record_number, where
from tunesmith.errors import UserError

ROLES = ("system", "user", "assistant")
LEADING_BLANK_LINES = re.compile(r"\A(?:[^\S\n]*\n)+")
# ShareGPT's speakers as chat roles
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


class Skip(Exception):
    """A record that cannot become an example (a null/missing value, an empty prompt or target):
    dropped and counted in the data card unless every record is."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def to_examples(
    recipe: Recipe, path: str | Path, records: list[dict], prefix: str, funnel: list | None = None
) -> list[dict]:
    """Normalized examples of `records`; dropped records are counted into `funnel` (one entry),
    and when none is left the first reason is an error naming its file:line."""
    build = {"chat": _chat, "completion": _completion}.get(recipe.task, _prompt_response)
    _sections_found(recipe, path, records)
    examples, dropped, shown, first = [], Counter(), {}, None
    for index, record in enumerate(records):
        try:
            example = build(recipe, path, record)
        except Skip as skip:
            dropped[skip.reason] += 1
            shown.setdefault(skip.reason, []).append(_preview(record))
            first = first or skip
            continue
        example["id"] = f"{prefix}-{record_number(record, index)}"
        if recipe.evaluation.slice_by:  # kept for the evaluation's per-slice metrics
            example["meta"] = _slice_fields(recipe, path, record)
        if _owned(recipe, prefix):
            example["client"] = _owner(recipe, path, record)
        if recipe.data.difficulty_field:  # for the curriculum's `field` scorer
            example["difficulty"] = _number(path, record, recipe.data.difficulty_field)
        examples.append(example)
    if not examples and first is not None:
        counts = ", ".join(f"{reason}: {n}" for reason, n in dropped.items())
        raise UserError(f"{first}; no record of {path} is usable ({counts})")
    if funnel is not None:
        funnel.append(
            {
                "step": f"read {prefix}",
                "rows_in": len(records),
                "rows_out": len(examples),
                "dropped": dict(dropped),
                "examples": {reason: rows[:2] for reason, rows in shown.items()},
            }
        )
    return examples


def _slice_fields(recipe: Recipe, path, record: dict) -> dict[str, str]:
    """The `evaluation.slice_by` fields of a record (`data.fill_missing` fills a null or missing
    one): an unfilled one is an error, not a drop."""
    try:
        return {
            name: _text(path, record, name, "evaluation.slice_by", recipe.data.fill_missing)
            for name in recipe.evaluation.slice_by
        }
    except Skip as skip:
        raise UserError(str(skip)) from None


def _owned(recipe: Recipe, prefix: str) -> bool:
    """Whether this file's examples carry their federated client: only training data is
    partitioned among clients, so a given val/test file need not name owners."""
    federated = recipe.federated
    return federated is not None and bool(federated.partition_field) and prefix == "train"


def _owner(recipe: Recipe, path, record: dict) -> str:
    """The record's federated client (`data.fill_missing` fills a null or missing one): an
    unfilled one is an error, not the records of a client named 'None'."""
    name = recipe.federated.partition_field
    try:
        return _text(path, record, name, "federated.partition_field", recipe.data.fill_missing)
    except Skip as skip:
        raise UserError(str(skip)) from None


def _preview(record: dict) -> dict:
    return {k: (v[:200] if isinstance(v, str) else v) for k, v in record.items()}


def _field(path, record: dict, name: str, key: str, fill: dict[str, str] | None = None) -> object:
    found, value = field_value(record, name)
    if value is None and fill and name in fill:
        return fill[name]
    if not found:
        present = ", ".join(k for k in record if k not in SOURCE_KEYS)
        raise Skip(
            f"missing {name}",
            f"{where(path, record)}: missing field '{name}' (recipe key {key}; "
            f"fields present: {present})",
        )
    if value is None:  # JSON null, or a CSV row shorter than its header
        raise Skip(f"missing {name}", f"{where(path, record)}: field '{name}' is null ({key})")
    return value


def field_value(record: dict, name: str) -> tuple[bool, object]:
    """(found, value) of the field `name`, or, when no field has that whole name, of the nested
    field its dotted path names (meta.title: the key title of the object in field meta)."""
    if name in record:
        return True, record[name]
    value: object = record
    for key in name.split("."):
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _number(path, record: dict, name: str) -> float:
    import math

    try:
        value = _field(path, record, name, "data.difficulty_field")
    except Skip as skip:  # a curriculum without a record's difficulty: an error, not a drop
        raise UserError(str(skip)) from None
    try:
        number = float(str(value)) if not isinstance(value, bool) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise UserError(
            f"{where(path, record)}: field '{name}' is not a number "
            f"(data.difficulty_field): {str(value)[:40]!r}"
        )
    return number


def _text(
    path, record: dict, name: str, key: str, fill: dict[str, str] | None = None, spell=str
) -> str:
    """A field as text; `spell` writes a scalar (labels: `label_text`, the JSON spelling)."""
    value = _field(path, record, name, key, fill)
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(str(v) for v in value)  # e.g. WordNet's list of synonyms
    if isinstance(value, (dict, list)):
        raise UserError(f"{where(path, record)}: field '{name}' is not text ({key})")
    return spell(value)


def _prompt_response(recipe: Recipe, path, record: dict) -> dict:
    data = recipe.data
    fill = data.fill_missing
    prompt = _prompt(data, path, record)
    labelled = task_spec(recipe.task).has_label
    output = str(data.output_field)
    if labelled:
        response = _label(path, record, output, fill)
        response = (data.label_map or {}).get(response, response)
    else:
        response = _text(path, record, output, "data.output_field", fill).strip()
    if not response:
        raise Skip("empty output", f"{where(path, record)}: empty '{data.output_field}'")
    if not prompt.strip():
        raise Skip("empty prompt", f"{where(path, record)}: the prompt is empty")
    example = {"prompt": prompt, "response": response}
    if data.system_prompt:
        example["system"] = data.system_prompt
    if labelled:
        example["label"] = response
    return example


def _label(path, record: dict, name: str, fill: dict[str, str] | None) -> str:
    """A record's class, spelled as JSON writes it (JSON 1 and 1.0 are one class). A list of
    one label is that label; a longer list is multi-label data, which one-class-per-example
    training would silently turn into combination classes ("a, b"): an error instead."""
    value = _field(path, record, name, "data.output_field", fill)
    if isinstance(value, list) and len(value) <= 1:
        value = value[0] if value else ""  # no label: dropped as an empty output
    elif isinstance(value, list):
        raise UserError(
            f"{where(path, record)}: field '{name}' holds {len(value)} labels; classification "
            "takes one label per record (multi-label data is not supported: give one record "
            "per label, or one label that names the combination)"
        )
    if isinstance(value, (dict, list)):
        raise UserError(f"{where(path, record)}: field '{name}' is not a label (data.output_field)")
    return label_text(value).strip()


def _prompt(data, path, record: dict) -> str:
    """The record's prompt: the template filled, its optional sections kept or dropped."""

    def value(name: str) -> str:
        key = "data.input_field" if data.prompt_template is None else "data.prompt_template"
        return _text(path, record, name, key, data.fill_missing)

    def filled(name: str) -> bool:  # a section's field: null or missing reads as blank
        try:
            return bool(value(name).strip())
        except Skip:
            return False

    # A record whose every slot is blank (a CSV export's empty cell) would train the template's
    # instruction alone: empty, as its prompt is with data.input_field and no template.
    slots = plain_fields(data.template())
    if slots and not any(value(name).strip() for name in slots):
        blank = ", ".join(slots)
        raise Skip("empty prompt", f"{where(path, record)}: the prompt is empty (blank: {blank})")
    # an empty slot at an end (Alpaca's "{instruction}\n\n{input}" with no input) leaves
    # blank lines the model would learn to expect; the first line's indentation stays
    return LEADING_BLANK_LINES.sub("", data.fill_template(value, filled)).rstrip()


def _sections_found(recipe: Recipe, path, records: list[dict]) -> None:
    """A section's field that no record of the file has is a misspelt name, not a section
    meant to be dropped from every prompt: an error naming it, not a silently shorter prompt."""
    data = recipe.data
    if not task_spec(recipe.task).prompted or not records:
        return
    for name in section_fields(data.template()):
        if name not in data.fill_missing and not any(field_value(r, name)[0] for r in records):
            present = ", ".join(k for k in records[0] if k not in SOURCE_KEYS)
            raise UserError(
                f"{path}: no record has the field '{name}' that a section of "
                f"data.prompt_template is kept or dropped by (fields present: {present})"
            )


def _chat(recipe: Recipe, path, record: dict) -> dict:
    name = recipe.data.messages_field
    messages = _field(path, record, name, "data.messages_field")
    if not isinstance(messages, list) or not messages:
        raise UserError(f"{where(path, record)}: field '{name}' must be a non-empty list")
    clean = []
    for i, message in enumerate(messages):
        message = _as_message(f"{where(path, record)}: {name}[{i}]", message)
        # a null content is a turn with nothing said, read as a blank one (as curation reads
        # it): kept as context before the target, never trained, cut after it
        clean.append({"role": message["role"], "content": content_of(message)})
    clean = clean[: _target_turn(path, record, clean) + 1]
    if recipe.data.system_prompt and clean[0]["role"] != "system":
        clean.insert(0, {"role": "system", "content": recipe.data.system_prompt})
    return {"messages": clean}


def _as_message(place: str, message: object) -> dict:
    """One message as {role, content}: OpenAI style as it is, ShareGPT style {from, value}
    (from: human, gpt or system, as ShareGPT/Vicuna data sets write them) mapped to it."""
    if isinstance(message, dict) and "role" in message and "content" in message:
        role, content, key, roles = message["role"], message["content"], "role", ROLES
    elif isinstance(message, dict) and "from" in message and "value" in message:
        role, content, key, roles = message["from"], message["value"], "from", SHAREGPT_ROLES
        role = SHAREGPT_ROLES.get(role, role) if isinstance(role, str) else role
    else:
        got = f"keys: {', '.join(message) or 'none'}" if isinstance(message, dict) else "not one"
        raise UserError(
            f"{place} must be an object with role and content (or ShareGPT's from and value); {got}"
        )
    if role not in ROLES:
        raise UserError(f"{place}.{key} {role!r} is not one of {', '.join(roles)}")
    return {"role": role, "content": content}


def _target_turn(path, record: dict, messages: list[dict]) -> int:
    """Index of the conversation's target: its last non-blank assistant turn. Turns after it
    (a blank or null answer, an unanswered user turn) are cut, since neither training nor
    generation has an answer to learn or score there; a conversation with no target is dropped.
    Blank turns before it stay: dropping the conversation for a skipped reply would lose every
    answer it has, and training learns no blank reply (models/formatting.py)."""
    answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if not answers:
        raise Skip(
            "no assistant message",
            f"{where(path, record)}: conversation has no assistant message to learn",
        )
    answered = [i for i in answers if messages[i]["content"].strip()]
    if not answered:
        raise Skip("empty output", f"{where(path, record)}: every assistant message is empty")
    return answered[-1]


def _completion(recipe: Recipe, path, record: dict) -> dict:
    text = _text(path, record, recipe.data.text_field, "data.text_field", recipe.data.fill_missing)
    if not text.strip():
        raise Skip("empty text", f"{where(path, record)}: empty '{recipe.data.text_field}'")
    return {"text": text}


def text_fields(task: str) -> list[str]:
    """Fields of normalized examples that curation steps read and rewrite."""
    return {"chat": ["messages"], "completion": ["text"]}.get(task, ["prompt", "response"])


def label_key(recipe: Recipe):
    """The key that reads an example's label (stratified splits, label checks), or None when
    the task has no labels."""
    return (lambda example: example.get("label")) if task_spec(recipe.task).has_label else None
