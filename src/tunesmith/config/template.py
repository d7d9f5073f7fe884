"""Prompt templates: `{field}` slots and Mustache-style optional sections, parsed and filled
from their pieces, never with str.format.

`{#context}...{/context}` is kept only when the record's `context` is non-blank; a blank,
null or missing one drops the whole section (Dolly's `Context:` label with it).
`{^context}...{/context}` is the inverse: kept only when `context` is blank or missing
(Alpaca's preamble for a record without an input). Sections do not nest.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from dataclasses import dataclass

KEPT_WHEN_FILLED, KEPT_WHEN_EMPTY, CLOSE = "#", "^", "/"
MARKS = KEPT_WHEN_FILLED + KEPT_WHEN_EMPTY + CLOSE


@dataclass(frozen=True)
class Section:
    field: str
    when_empty: bool  # {^field}: kept when the field is blank or missing
    pieces: tuple  # (literal text, slot name or None) pairs inside it


def parse_template(template: str, key: str) -> list:
    """The template as (literal, slot or None) pairs and `Section`s; a malformed one raises
    ValueError naming `key` (the loader adds the recipe's file:line)."""
    items: list = []
    open_: tuple[str, str, list] | None = None  # (mark, field, its pieces) of an open section
    for literal, slot in _slots(template, key):
        target = open_[2] if open_ else items
        if not slot or slot[0] not in MARKS:
            if slot is not None:
                _plain_field(slot, key, slot)
            target.append((literal, slot))
            continue
        target.append((literal, None))
        mark, field = slot[0], slot[1:]
        _plain_field(field, key, slot)
        if mark != CLOSE:
            if open_:
                raise ValueError(
                    f"{key} section {{{slot}}} opens inside section {{{open_[0]}{open_[1]}}}; "
                    "sections cannot be nested"
                )
            open_ = (mark, field, [])
        elif open_ is None:
            raise ValueError(f"{key} {{{slot}}} closes no open section")
        elif field != open_[1]:
            raise ValueError(
                f"{key} {{{slot}}} does not close the open section {{{open_[0]}{open_[1]}}} "
                f"(end it with {{/{open_[1]}}})"
            )
        else:
            items.append(Section(field, open_[0] == KEPT_WHEN_EMPTY, tuple(open_[2])))
            open_ = None
    if open_:
        raise ValueError(
            f"{key} section {{{open_[0]}{open_[1]}}} is never closed (end it with {{/{open_[1]}}})"
        )
    return items


def template_fields(template: str) -> list[str]:
    """Every field the template reads: its slots and its sections' fields, in order."""
    names: list[str] = []
    for item in _parsed(template):
        if isinstance(item, Section):
            names += [item.field, *(slot for _, slot in item.pieces if slot)]
        elif item[1]:
            names.append(item[1])
    return list(dict.fromkeys(names))


def section_fields(template: str) -> list[str]:
    """The fields that keep or drop the template's sections."""
    return list(dict.fromkeys(i.field for i in _parsed(template) if isinstance(i, Section)))


def fill_template(template: str, value: Callable[[str], str], filled: Callable[[str], bool]) -> str:
    """The template with each slot replaced by `value(slot)`, and each section kept or dropped
    by `filled(field)` (whether the record's field is non-blank). Slots of a dropped section
    are never read: a record may lack them."""
    out = []
    for item in _parsed(template):
        if isinstance(item, Section):
            if filled(item.field) != item.when_empty:
                out += [text + (value(slot) if slot else "") for text, slot in item.pieces]
        else:
            out.append(item[0] + (value(item[1]) if item[1] else ""))
    return "".join(out)


@functools.lru_cache(maxsize=8)
def _parsed(template: str) -> tuple:
    """A template the recipe validator accepted, parsed once (not once per record)."""
    return tuple(parse_template(template, "prompt_template"))


def plain_slots(template: str, key: str) -> None:
    """Only {name} slots, or {a.b} for a field nested in an object: positional, index,
    conversion and format-spec slots have no meaning for a record's fields (and to str.format
    they would reach into objects, or pad to gigabytes: {x:>9999999999})."""
    for _, slot in _slots(template, key):
        if slot is not None:
            _plain_field(slot, key, slot)


def _slots(template: str, key: str) -> list[tuple[str, str | None]]:
    """(literal text, slot or None) pieces; a spec or conversion is refused here, as it is
    dropped from the slot's name ({{ and }} become the braces they stand for)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{key} does not parse: {exc}") from None
    for _, field, spec, conversion in parsed:
        if spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "")
            _refuse(key, shown + (f":{spec}" if spec else ""))
    return [(literal, field) for literal, field, _, _ in parsed]


def _plain_field(field: str, key: str, slot: str) -> None:
    if field.isdigit() or "" in field.split(".") or "[" in field or field[0] in MARKS:
        _refuse(key, "{" + slot)


def _refuse(key: str, shown: str) -> None:
    raise ValueError(
        f"{key} slot {shown}}} is not a plain field name; use {{name}}, or {{name.key}} for a "
        "key of an object field, or {#name}...{/name} for a section kept only when name is "
        "not blank (write a literal brace as {{ or }})"
    )
