"""A process-wide cache that exists only inside `with cache.scope():` blocks.

Used where a driver runs many similar jobs in one process (a search's trials) and wants them
to share work that a single run does once anyway: the loaded base model, the tokenised data.
Outside a scope nothing is kept, so a plain `tunesmith run` holds no extra memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable
from typing import Any


class ScopedCache:
    def __init__(self) -> None:
        self._store: dict | None = None

    @contextlib.contextmanager
    def scope(self):
        """Within the block values are kept; nested blocks share the outer block's values."""
        outer, self._store = self._store, ({} if self._store is None else self._store)
        try:
            yield
        finally:
            self._store = outer

    @property
    def active(self) -> bool:
        return self._store is not None

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value kept under `key` (made on first use); outside a scope, always made."""
        if self._store is None:
            return make()
        if key not in self._store:
            self._store[key] = make()
        return self._store[key]
