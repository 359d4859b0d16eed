"""What the overview, the activity, the health and the send hour need of one local day of
a tenant's raw log: a :class:`DayDigest`, made once from the day's facts and kept while
the day's leaves stay the same (:class:`DigestCache`). Pure.

A refresh used to decode every fact of the last 30 days (about 8 µs each: 2.3 s of CPU
a minute for an account of 10,000 texts a day, ``python -m tests.bench.refresh``). A past
day's leaves rarely change (a late delivery folded after midnight), and the leaves
themselves never do (an id names the same facts for good), so a day whose leaf ids are
those of its digest is not read again: a refresh reads today's leaves and the ids of the
others.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.analytics.facts import FOLLOW, INTERACTION, UNFOLLOW, Fact

# Readers' openids the cache holds at most, over every day it keeps: about 130 bytes each
# (65 MB in all; a reader on several days holds one string), under analytics' 256 MiB.
# Past that, the days used longest ago are made again when next wanted.
CACHE_READERS = 500_000


@dataclass(frozen=True, slots=True)
class DayDigest:
    """One local day: its interactions (count, distinct readers, by local weekday and
    hour, the latest) and its follows and unfollows."""

    day: str  # tenant-local "YYYY-MM-DD"
    interactions: int
    readers: frozenset[str]  # who interacted
    by_hour: tuple[tuple[int, int, int], ...]  # (weekday, hour, interactions), non-zero
    last_interaction: datetime | None
    follows: int
    unfollows: int

    @property
    def net(self) -> int:
        return self.follows - self.unfollows


def digest(day: str, facts: Iterable[Fact]) -> DayDigest:
    """The digest of local ``day`` from its facts, each counted as given (the caller
    keeps each envelope once); facts of other days are left out."""
    interactions, follows, unfollows = 0, 0, 0
    readers: set[str] = set()
    cells: dict[tuple[int, int], int] = {}
    last: datetime | None = None
    for fact in facts:
        if fact.day != day:
            continue
        if fact.kind == INTERACTION:
            interactions += 1
            readers.add(sys.intern(fact.openid))  # one string for a reader's many days
            cell = (fact.weekday, fact.hour)
            cells[cell] = cells.get(cell, 0) + 1
            if last is None or fact.at > last:
                last = fact.at
        elif fact.kind == FOLLOW:
            follows += 1
        elif fact.kind == UNFOLLOW:
            unfollows += 1
    by_hour = tuple((weekday, hour, n) for (weekday, hour), n in sorted(cells.items()))
    return DayDigest(day, interactions, frozenset(readers), by_hour, last, follows, unfollows)


class DigestCache:
    """Digests by tenant and day, each with the ids of the leaves it was made of; the days
    used longest ago go first once more than ``max_readers`` openids are held."""

    def __init__(self, max_readers: int = CACHE_READERS) -> None:
        self._max_readers = max_readers
        self._held = 0
        self._days: OrderedDict[tuple[str, str], tuple[frozenset[str], DayDigest]] = OrderedDict()

    def get(self, tenant_id: str, day: str, leaves: frozenset[str]) -> DayDigest | None:
        """The digest of the day if it was made of exactly ``leaves``."""
        kept = self._days.get((tenant_id, day))
        if kept is None or kept[0] != leaves:
            return None
        self._days.move_to_end((tenant_id, day))
        return kept[1]

    def put(self, tenant_id: str, leaves: frozenset[str], made: DayDigest) -> None:
        self.forget(tenant_id, made.day)
        self._days[(tenant_id, made.day)] = (leaves, made)
        self._held += len(made.readers)
        while self._held > self._max_readers and len(self._days) > 1:
            _, (_, dropped) = self._days.popitem(last=False)
            self._held -= len(dropped.readers)

    def forget(self, tenant_id: str, day: str) -> None:
        kept = self._days.pop((tenant_id, day), None)
        if kept is not None:
            self._held -= len(kept[1].readers)

    def __len__(self) -> int:
        return len(self._days)
