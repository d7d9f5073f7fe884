"""Rewrite the input side of test examples (prompt, user turns, completion text)."""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.data.curate.rows import collect_texts, replace_texts

INPUT_FIELDS = ("prompt", "messages", "text")
INPUT_ROLES = ("user",)


def input_fields(example: dict) -> list[str]:
    return [f for f in INPUT_FIELDS if f in example]


def rewrite_inputs(examples: list[dict], transform: Callable[[list[str]], list]) -> list[dict]:
    """Copies of `examples` whose input texts went through `transform` (None: unchanged).

    One call for all texts: a seeded augmenter then draws one stream, not one per example.
    """
    if not examples:
        return []
    fields = input_fields(examples[0])  # every example of a split has the same shape
    texts = collect_texts(examples, fields, INPUT_ROLES)
    new = [n if n else old for old, n in zip(texts, transform(texts), strict=True)]
    return replace_texts(examples, fields, new, INPUT_ROLES)
