"""A process's cache of lookups by id (tenants, API keys): bounded LRUs, found and
missing apart.

An id looked up and not found is kept apart from those found, each kind in an LRU of its
own: a flood of random ids (every one a miss) evicts only other misses, never a real
entry, nor the stale copy that serves it while the database is away. An entry past its
time is still returned (``fresh`` says so): the caller decides whether stale will do.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(slots=True)
class Cached(Generic[V]):
    value: V | None  # None: looked up and not found
    until: float  # fresh until then (in the caller's clock), stale after

    def fresh(self, now: float) -> bool:
        return now < self.until


class LookupCache(Generic[V]):
    def __init__(
        self,
        *,
        found_seconds: float,
        missing_seconds: float,
        found_capacity: int = 50_000,
        missing_capacity: int = 10_000,
    ) -> None:
        self._found: OrderedDict[str, Cached[V]] = OrderedDict()
        self._missing: OrderedDict[str, Cached[V]] = OrderedDict()
        self._seconds = {True: found_seconds, False: missing_seconds}
        self._capacity = {True: found_capacity, False: missing_capacity}

    def get(self, key: str) -> Cached[V] | None:
        """The entry, fresh or stale; None when the id was never looked up (or evicted)."""
        for entries in (self._found, self._missing):
            entry = entries.get(key)
            if entry is not None:
                entries.move_to_end(key)
                return entry
        return None

    def put(self, key: str, value: V | None, *, now: float) -> None:
        self.forget(key)
        found = value is not None
        entries = self._found if found else self._missing
        entries[key] = Cached(value, now + self._seconds[found])
        while len(entries) > self._capacity[found]:
            entries.popitem(last=False)

    def forget(self, key: str) -> None:
        self._found.pop(key, None)
        self._missing.pop(key, None)

    def __len__(self) -> int:
        return len(self._found) + len(self._missing)
