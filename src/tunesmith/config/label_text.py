"""How a label value is written as text: the one spelling shared by the data and the recipe."""

from __future__ import annotations


def label_text(value: object) -> str:
    """A label as JSON writes it: `true`/`false`, `1` for 1.0, other values as Python's str.

    Why: JSON `1` and `1.0` are one class to whoever wrote the data, and `labels: [true, false]`
    in a recipe must name the classes of boolean data; Python's str gave "1.0" and "True".
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def label_suggestion(label: str, choices: list[str]) -> str:
    """' (did you mean 'x'?)' for a label: a case twin first ('True' -> 'true'), else the
    closest spelling, '' when none is close."""
    from tunesmith.errors import suggest

    same_case = [c for c in choices if c.casefold() == label.casefold()]
    return f" (did you mean '{same_case[0]}'?)" if same_case else suggest(label, choices)
