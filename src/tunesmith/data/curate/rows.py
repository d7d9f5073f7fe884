"""Reading and rewriting the text of a row, whatever its shape.

A text field holds a string, a list of strings (e.g. a word list; each element is a text and
the list keeps its shape when rewritten), or (chat) a list of {role, content} messages. Any
other list or object is not text. The output of a row is its label (when there is a label
field), else `response`, else the assistant messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PREVIEW_CHARS = 300


def is_messages(value: Any) -> bool:
    """A chat field: a non-empty list of {role, content} objects."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and "role" in m and "content" in m for m in value)
    )


def is_strings(value: Any) -> bool:
    """A list of strings (empty included): each element is a text of its own."""
    return isinstance(value, list) and all(isinstance(t, str) for t in value)


def is_text(value: Any) -> bool:
    return isinstance(value, str) or is_strings(value) or is_messages(value)


def content_of(message: dict) -> str:
    """A chat message's text: a null content is a turn with nothing said, "" (as the data
    stage reads it: missing), never the text "None"."""
    content = message["content"]
    return "" if content is None else str(content)


def final_answer(messages: list[dict]) -> str | None:
    """A chat's training target: the content of its last assistant turn (None: no assistant
    turn). The data stage cuts the turns after the last non-blank answer when it reads a
    conversation, so there this is the answer the model learns and is scored on."""
    answers = [content_of(m) for m in messages if m["role"] == "assistant"]
    return answers[-1] if answers else None


def texts_of(value: Any, roles: tuple[str, ...] | None = None) -> list[str]:
    """The strings inside a field value (message contents for chat, optionally by role).

    `roles` selects chat messages only: a string or list of strings is always included."""
    if is_messages(value):
        return [content_of(m) for m in value if roles is None or m["role"] in roles]
    if is_strings(value):
        return list(value)
    if value is None or isinstance(value, (list, dict)):
        return []
    return [str(value)]


def row_text(row: dict, fields: list[str]) -> str:
    return "\n".join(t for f in fields for t in texts_of(row.get(f)))


def map_text(
    row: dict, fields: list[str], fn: Callable[[str], str], roles: tuple[str, ...] | None = None
) -> dict:
    """A copy of `row` with `fn` applied to every string of `fields` (messages: by `roles`)."""
    new = dict(row)
    for name in fields:
        value = row.get(name)
        if is_messages(value):
            # a null content stays null: rewriting it would write text nobody said
            new[name] = [
                {**m, "content": fn(str(m["content"]))}
                if m["content"] is not None and (roles is None or m["role"] in roles)
                else m
                for m in value
            ]
        elif is_strings(value):
            new[name] = [fn(text) for text in value]
        elif isinstance(value, str):
            new[name] = fn(value)
    return new


def output_fields(ctx) -> set[str]:
    fields = {ctx.label_field} if ctx.label_field else set()
    if "response" in ctx.text_fields:
        fields.add("response")
    return fields


def content_fields(ctx) -> list[str]:
    """Text fields a step may rewrite: everything but a label (and its copy, `response`)."""
    if ctx.label_field:
        return [f for f in ctx.text_fields if f not in output_fields(ctx)]
    return list(ctx.text_fields)


def input_fields(ctx) -> list[str]:
    """Fields on the input side (chat: the messages field, whose user turns are the input)."""
    outputs = output_fields(ctx)
    return [f for f in ctx.text_fields if f not in outputs or f == "messages"]


def input_text(row: dict, ctx) -> str:
    outputs = output_fields(ctx)
    parts = []
    for name in ctx.text_fields:
        value = row.get(name)
        if is_messages(value):
            parts += texts_of(value, roles=("system", "user"))
        elif name not in outputs:
            parts += texts_of(value)
    return "\n".join(parts)


def output_text(row: dict, ctx) -> str | None:
    if ctx.label_field:
        value = row.get(ctx.label_field)
        return None if value is None else str(value)
    if "response" in ctx.text_fields:
        response = row.get("response")
        return "" if response is None else str(response)  # null: no answer, not "None"
    for name in ctx.text_fields:
        value = row.get(name)
        if is_messages(value):
            return "\n".join(texts_of(value, roles=("assistant",)))
    return None


def preview(row: dict, fields: list[str], limit: int = PREVIEW_CHARS) -> dict:
    """A small copy of a row for the data card and the log: id, label, text cut to `limit`."""
    small: dict = {"id": row.get("id")}
    for name in fields:
        value = row.get(name)
        if is_messages(value):
            small[name] = [
                {"role": m["role"], "content": _cut(content_of(m), limit)} for m in value
            ]
        elif is_strings(value):
            small[name] = [_cut(text, limit) for text in value]
        elif value is not None:
            small[name] = _cut(str(value), limit)
    for flag in ("label", "augmented"):
        if flag in row and flag not in small:
            small[flag] = row[flag]
    return small


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def collect_texts(rows: list[dict], fields: list[str], roles=None) -> list[str]:
    """Every string of `fields` in all rows, in the order `map_text` visits them."""
    texts: list[str] = []
    for row in rows:
        map_text(row, fields, lambda t: texts.append(t) or t, roles)
    return texts


def replace_texts(rows: list[dict], fields: list[str], texts, roles=None) -> list[dict]:
    """Copies of `rows` whose strings are taken in order from `texts` (see collect_texts)."""
    replacements = iter(texts)
    return [map_text(row, fields, lambda _t: next(replacements), roles) for row in rows]
