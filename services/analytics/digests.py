"""What the figures of a local day need of a tenant's raw log, made once from the day's
facts and kept while the day's leaves stay the same (:class:`DayCache`). Pure.

- :class:`DayDigest`: what the overview, the activity, the health and the send hour need
  (the last 30 days, every refresh);
- :class:`DayTally`: the day's figures (``stats/daily``), with what it takes to count its
  unanswered messages once later days' replies are known, and its follow events
  (``stats/channels``).

A refresh used to decode every fact of the last 30 days (about 8 µs each: 2.3 s of CPU
a minute for an account of 10,000 texts a day, ``python -m tests.bench.refresh``), and
``stats/daily`` every fact of the days asked (4 s for 30 such days). A past day's leaves
rarely change (a late delivery folded after midnight), and the leaves themselves never do
(an id names the same facts for good), so a day whose leaf ids are those it was made of
is not read again: only the ids of its leaves are.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from services.analytics.facts import FOLLOW, INTERACTION, REPLY, UNFOLLOW, Fact
from services.analytics.figures import DayFigures, day_figures

T = TypeVar("T")

# What the caches hold at most, in bytes as estimated (a reader's openid about 180, an
# open message 8; measured with tracemalloc): 48 + 16 MB, under analytics' 256 MiB.
# Past that, the days used longest ago are made again when next wanted.
DIGESTS_BYTES = 48 << 20
TALLIES_BYTES = 16 << 20


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

    def size(self) -> int:
        """Bytes held, about."""
        return 200 + 180 * len(self.readers) + 40 * len(self.by_hour)


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


@dataclass(frozen=True, slots=True)
class DayTally:
    """A day's figures, its ``unanswered`` left to :meth:`figures`: the day's messages no
    reply of the same day answers (``open``, as sorted 64-bit hashes of their ids: 8
    bytes each), and the messages of other days its replies answer (``late``); and its
    follow events, for the channels."""

    counted: DayFigures  # unanswered: len(open)
    open: array[int]
    late: frozenset[str]
    follows: tuple[Fact, ...]  # the day's subscribes and unsubscribes (channels)

    def figures(self, answered: Collection[str]) -> DayFigures:
        """The day's figures, its messages answered by ``answered`` (the ``late`` of
        every other day) left out of ``unanswered``."""
        found = 0
        for event_id in answered:
            key = _hash64(event_id)
            at = bisect_left(self.open, key)
            if at < len(self.open) and self.open[at] == key:
                found += 1
        return replace(self.counted, unanswered=len(self.open) - found)

    def size(self) -> int:
        return 600 + 8 * len(self.open) + 100 * len(self.late) + 400 * len(self.follows)


def tally(day: str, facts: Iterable[Fact]) -> DayTally:
    """The tally of local ``day`` from its facts (each envelope once); facts of other days
    are left out."""
    own = [f for f in facts if f.day == day]
    messages = {f.id for f in own if f.type.startswith("msg.")}
    answers = {f.answers for f in own if f.kind == REPLY and f.answers}
    counted = day_figures(day, own, answers)
    unanswered = array("Q", sorted({_hash64(event_id) for event_id in messages - answers}))
    follows = tuple(f for f in own if f.kind in (FOLLOW, UNFOLLOW))
    return DayTally(counted, unanswered, frozenset(answers - messages), follows)


def _hash64(event_id: str) -> int:
    """A 64-bit hash of an id, for this process (``hash`` is salted per process, and the
    tallies live in one): two of a day's messages meet by chance once in 10^11 days."""
    return hash(event_id) & 0xFFFF_FFFF_FFFF_FFFF


class DayCache(Generic[T]):
    """What was made of a tenant's day, by tenant and day, with the ids of the leaves it
    was made of; the days used longest ago go first once more than ``budget`` bytes (as
    ``size`` estimates them) are held."""

    def __init__(self, size: Callable[[T], int], budget: int) -> None:
        self._size, self._budget = size, budget
        self._held = 0
        self._days: OrderedDict[tuple[str, str], tuple[frozenset[str], T]] = OrderedDict()

    def get(self, tenant_id: str, day: str, leaves: frozenset[str]) -> T | None:
        """What was made of the day if it was made of exactly ``leaves``."""
        kept = self._days.get((tenant_id, day))
        if kept is None or kept[0] != leaves:
            return None
        self._days.move_to_end((tenant_id, day))
        return kept[1]

    def put(self, tenant_id: str, day: str, leaves: frozenset[str], made: T) -> None:
        self.forget(tenant_id, day)
        self._days[(tenant_id, day)] = (leaves, made)
        self._held += self._size(made)
        while self._held > self._budget and len(self._days) > 1:
            _, (_, dropped) = self._days.popitem(last=False)
            self._held -= self._size(dropped)

    def forget(self, tenant_id: str, day: str) -> None:
        kept = self._days.pop((tenant_id, day), None)
        if kept is not None:
            self._held -= self._size(kept[1])

    def __len__(self) -> int:
        return len(self._days)
