"""Shared pydantic base: frozen, unknown keys forbidden."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every recipe section: immutable, and a typo in a key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)
