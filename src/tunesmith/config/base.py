"""Shared pydantic base: frozen, unknown keys forbidden."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every recipe section: immutable, a typo in a key is an error, and every
    number finite (`1e400` reads as infinity: a learning rate of inf passed `gt=0`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def rule(text: str, *keys: str):
    """Attach the rule a hand-written validator enforces, in a few words, where it is
    defined: the recipe reference (`tunesmith recipe docs`) shows it in the `allowed` column of
    each key's row, so the docs say what the code refuses and cannot drift from it. `keys`:
    dotted from the validator's model (`data.output_field` from the recipe); a field
    validator's own fields when none are given. Stacked when a validator enforces several."""

    def attach(func):
        func.__rules__ = [(text, keys), *getattr(func, "__rules__", [])]  # top one first
        return func

    return attach


def adds_no_rule(func):
    """Marks a validator that adds no rule to its key's type and limits: it only changes how
    a value may be written (`true` for a section's defaults, one string for a list of one), or
    words a refusal the type makes anyway. Every validator is either this or carries a `rule`
    (a test holds them to it)."""
    func.__rules__ = []
    return func


# The rule `share_or_count` adds to the field's limits (≥ 0 or > 0, shown from its type)
SHARE_OR_COUNT_RULE = "a share (with a decimal point) at most 1.0, or a whole count"


def share_or_count(value, floor_included: bool = True):
    """A share-or-count field's number checked before pydantic's `float | int` union sees it
    (mode="before"): each union member would report its own error, joined as "... or ...",
    and a float above 1 is neither a share nor a count. Other values go on to the union."""
    if isinstance(value, bool):  # YAML's true would be read as 1.0: all of the data
        raise ValueError(f"{str(value).lower()} is not a share (0.0-1.0) or a count (an integer)")
    if not isinstance(value, (int, float)):
        return value
    if value < 0 or (value == 0 and not floor_included):
        floor = "0 or more" if floor_included else "above 0"
        raise ValueError(f"{value} is not {floor}; give a share (0.0-1.0) or a count (an integer)")
    if isinstance(value, float) and value > 1:
        raise ValueError(
            f"{value} is neither a share (0.0-1.0) nor a count; write a count as an integer"
        )
    return value
