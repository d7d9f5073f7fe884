"""A small name -> implementation registry: the one extension mechanism of tunesmith.

A new adapter, curation step, metric or tracker is one file plus one `register(...)` call.
Tests parametrize over `REGISTRY.names()`, so a registered variant joins the test matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from tunesmith.errors import UserError, suggest

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T | None = None) -> T | Callable[[T], T]:
        """Register `item` under `name`; usable as a decorator when `item` is omitted."""

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return add(item) if item is not None else add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise UserError(
                f"unknown {self.kind} '{name}'{suggest(name, self.names())}; known: {known}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
