"""Prompt templates: `{field}` slots and Mustache-style optional sections, parsed and filled
from their pieces, never with str.format.

`{#context}...{/context}` is kept only when the record's `context` is non-blank; a blank,
null or missing one drops the whole section (Dolly's `Context:` label with it).
`{^context}...{/context}` is the inverse: kept only when `context` is blank or missing
(Alpaca's preamble for a record without an input). Sections nest:
`{#context}{#source}({source}){/source}{/context}` keeps the source only inside a kept context.
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
    pieces: tuple  # its items: (literal text, slot name or None) pairs and nested Sections


def parse_template(template: str, key: str) -> list:
    """The template as (literal, slot or None) pairs and `Section`s (which may hold sections
    of their own); a malformed one raises ValueError naming `key` (the loader adds the
    recipe's file:line)."""
    items: list = []
    open_: list[tuple[str, str, list]] = []  # open sections, innermost last: (mark, field, items)
    for literal, slot in _slots(template, key):
        target = open_[-1][2] if open_ else items
        if not slot or slot[0] not in MARKS:
            if slot is not None:
                _plain_field(slot, key, slot)
            target.append((literal, slot))
            continue
        target.append((literal, None))
        mark, field = slot[0], slot[1:]
        _plain_field(field, key, slot)
        if mark != CLOSE:
            _refuse_reopened(open_, mark, field, key)
            open_.append((mark, field, []))
            continue
        section = _close(open_, slot, key)
        (open_[-1][2] if open_ else items).append(section)
    if open_:
        mark, field, _ = open_[-1]
        raise ValueError(
            f"{key} section {{{mark}{field}}} is never closed (end it with {{/{field}}})"
        )
    return items


def _close(open_: list, slot: str, key: str) -> Section:
    """The innermost open section, which `{/field}` in `slot` must close."""
    if not open_:
        raise ValueError(f"{key} {{{slot}}} closes no open section")
    mark, field, items = open_.pop()
    if slot[1:] != field:
        raise ValueError(
            f"{key} {{{slot}}} does not close the open section {{{mark}{field}}} "
            f"(end it with {{/{field}}})"
        )
    return Section(field, mark == KEPT_WHEN_EMPTY, tuple(items))


def _refuse_reopened(open_: list, mark: str, field: str, key: str) -> None:
    """A section inside one on the same field: its closing tag could not say which it ends."""
    for outer_mark, outer_field, _ in open_:
        if outer_field == field:
            raise ValueError(
                f"{key} section {{{mark}{field}}} opens inside section "
                f"{{{outer_mark}{outer_field}}} on the same field"
            )


def template_fields(template: str) -> list[str]:
    """Every field the template reads: its slots and its sections' fields, in order."""
    return list(dict.fromkeys(_fields(_parsed(template), sections_only=False)))


def plain_fields(template: str) -> list[str]:
    """The fields of the slots outside every optional section: those every prompt shows."""
    return [item[1] for item in _parsed(template) if not isinstance(item, Section) and item[1]]


def section_fields(template: str) -> list[str]:
    """The fields that keep or drop the template's sections (nested ones included)."""
    return list(dict.fromkeys(_fields(_parsed(template), sections_only=True)))


def _fields(items, sections_only: bool):
    for item in items:
        if isinstance(item, Section):
            yield item.field
            yield from _fields(item.pieces, sections_only)
        elif item[1] and not sections_only:
            yield item[1]


def fill_template(template: str, value: Callable[[str], str], filled: Callable[[str], bool]) -> str:
    """The template with each slot replaced by `value(slot)`, and each section kept or dropped
    by `filled(field)` (whether the record's field is non-blank). Slots of a dropped section
    (and of the sections inside it) are never read: a record may lack them."""
    return "".join(_filled(_parsed(template), value, filled))


def _filled(items, value: Callable[[str], str], filled: Callable[[str], bool]):
    for item in items:
        if isinstance(item, Section):
            if filled(item.field) != item.when_empty:
                yield from _filled(item.pieces, value, filled)
        else:
            yield item[0] + (value(item[1]) if item[1] else "")


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
