"""Shared pydantic base: frozen, unknown keys forbidden."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every recipe section: immutable, a typo in a key is an error, and every
    number finite (`1e400` reads as infinity: a learning rate of inf passed `gt=0`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
