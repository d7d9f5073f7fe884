"""Map raw records to tunesmith's normalized examples, per task.

Normalized examples (what data/{train,val,test}.jsonl hold):
- summarization / instruction / classification: {id, prompt, response[, system]}
  (classification also keeps `label`, equal to `response`)
- chat: {id, messages: [{role, content}, ...]}
- completion: {id, text}
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.config.schema import Recipe
from tunesmith.data.io import where
from tunesmith.errors import UserError

ROLES = ("system", "user", "assistant")


def to_examples(recipe: Recipe, path: str | Path, records: list[dict], prefix: str) -> list[dict]:
    """Normalized examples of `records`; a missing or malformed field names its file:line."""
    build = {"chat": _chat, "completion": _completion}.get(recipe.task, _prompt_response)
    examples = []
    for index, record in enumerate(records):
        example = build(recipe, path, record)
        example["id"] = f"{prefix}-{record.get('_line', index + 1)}"
        if recipe.data.difficulty_field:  # for the curriculum's `field` scorer
            example["difficulty"] = _number(path, record, recipe.data.difficulty_field)
        examples.append(example)
    return examples


def _field(path, record: dict, name: str, key: str) -> object:
    if name not in record:
        present = ", ".join(k for k in record if k != "_line")
        raise UserError(
            f"{where(path, record)}: missing field '{name}' (recipe key {key}; "
            f"fields present: {present})"
        )
    return record[name]


def _number(path, record: dict, name: str) -> float:
    import math

    value = _field(path, record, name, "data.difficulty_field")
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


def _text(path, record: dict, name: str, key: str) -> str:
    value = _field(path, record, name, key)
    if value is None:
        return ""
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(str(v) for v in value)  # e.g. WordNet's list of synonyms
    if isinstance(value, (dict, list)):
        raise UserError(f"{where(path, record)}: field '{name}' is not text ({key})")
    return str(value)


def _prompt_response(recipe: Recipe, path, record: dict) -> dict:
    data = recipe.data
    values = {
        name: _text(path, record, name, "data.prompt_template") for name in data.template_fields()
    }
    prompt = data.template().format(**values)
    response = _text(path, record, str(data.output_field), "data.output_field").strip()
    example = {"prompt": prompt, "response": response}
    if data.system_prompt:
        example["system"] = data.system_prompt
    if recipe.task == "classification":
        example["label"] = response
    return example


def _chat(recipe: Recipe, path, record: dict) -> dict:
    name = recipe.data.messages_field
    messages = _field(path, record, name, "data.messages_field")
    if not isinstance(messages, list) or not messages:
        raise UserError(f"{where(path, record)}: field '{name}' must be a non-empty list")
    clean = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise UserError(
                f"{where(path, record)}: {name}[{i}] must be an object with role and content"
            )
        if message["role"] not in ROLES:
            raise UserError(
                f"{where(path, record)}: {name}[{i}].role '{message['role']}' is not one of "
                f"{', '.join(ROLES)}"
            )
        clean.append({"role": message["role"], "content": str(message["content"])})
    if recipe.data.system_prompt and clean[0]["role"] != "system":
        clean.insert(0, {"role": "system", "content": recipe.data.system_prompt})
    if not any(m["role"] == "assistant" for m in clean):
        raise UserError(f"{where(path, record)}: conversation has no assistant message to learn")
    return {"messages": clean}


def _completion(recipe: Recipe, path, record: dict) -> dict:
    return {"text": _text(path, record, recipe.data.text_field, "data.text_field")}


def text_fields(task: str) -> list[str]:
    """Fields of normalized examples that curation steps read and rewrite."""
    return {"chat": ["messages"], "completion": ["text"]}.get(task, ["prompt", "response"])
