"""Records kept for a window of time, one collection per slice of it, dropped whole.

The gateway's dedup records and published notes live for the dedup window (15 minutes)
and are written once per webhook. Kept in one collection, they were purged with a delete
filtered on their time, and on FerretDB's SQLite backend such a delete reads and decodes
every row of the table, index or not: about 25 µs a row on this machine (README,
Benchmarks). At 1,000 webhooks a second a collection holds about a million rows, and each
row is read by seven or eight purges before it goes: 0.2 ms of database CPU per webhook
per collection, more than everything else the database does for it. In collections named
for their slice (``<prefix><n>``, ``n`` the epoch seconds ÷ the slice's length) the purge
drops the slices that ended before the window, whatever they hold, and reads none of it;
MongoDB gains as well (no collection scan, no index to keep on the time).

Which slice a record goes to must not change between the writes that must meet there:
the dedup records use the time the event occurred (the same in every retry of it), the
notes the time they are written (they are only read by ``_id``, from every live slice).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.platform.group_commit import GroupInsert
from shared.platform.storage import delete_all

WRITERS_KEPT = 8  # slices with a group-commit writer of their own at most


@dataclass(frozen=True, slots=True)
class TimeSlices:
    prefix: str
    seconds: float
    legacy: str | None = None  # the one collection of these records before the slices

    def number(self, at: float) -> int:
        return int(at // self.seconds)

    def name(self, at: float) -> str:
        """The slice that holds records of ``at`` (epoch seconds)."""
        return f"{self.prefix}{self.number(at)}"

    def live(self, now: float, window: float) -> list[str]:
        """The slices that may hold records of the last ``window`` seconds, newest first."""
        newest, oldest = self.number(now), self.number(now - window)
        return [f"{self.prefix}{n}" for n in range(newest, oldest - 1, -1)]

    def expired(
        self, names: Iterable[str], now: float, window: float, *, ahead: float | None = None
    ) -> list[str]:
        """Of ``names``, the slices of this prefix that ended before the window began, and
        (with ``ahead``) those that begin more than ``ahead`` seconds from now: records of
        a clock gone wrong, which would otherwise stay until that time comes."""
        gone = []
        for name in names:
            number = self._number_of(name)
            if number is None:
                continue
            if (number + 1) * self.seconds <= now - window or (
                ahead is not None and number * self.seconds > now + ahead
            ):
                gone.append(name)
        return sorted(gone)

    def _number_of(self, name: str) -> int | None:
        if not name.startswith(self.prefix):
            return None
        digits = name[len(self.prefix) :]
        return int(digits) if digits.isdigit() else None

    async def existing(self, db: AsyncDatabase[dict[str, Any]]) -> list[str]:
        """The slices of this prefix that exist in ``db``."""
        names = await db.list_collection_names()
        return sorted(name for name in names if self._number_of(name) is not None)

    async def drop_expired(
        self,
        db: AsyncDatabase[dict[str, Any]],
        now: float,
        window: float,
        *,
        ahead: float | None = None,
    ) -> int:
        """Drops the expired slices (:meth:`expired`) of ``db``, and the ``legacy``
        collection when there is one; answers how many slices went."""
        names = await db.list_collection_names()
        gone = self.expired(names, now, window, ahead=ahead)
        for name in gone:
            await db.drop_collection(name)
        if self.legacy is not None and self.legacy in names:
            await db.drop_collection(self.legacy)
        return len(gone)

    async def delete_everywhere(
        self, db: AsyncDatabase[dict[str, Any]], query: dict[str, Any]
    ) -> None:
        """Deletes what ``query`` finds in every slice (offboarding a tenant: rare, and a
        scan of each)."""
        for name in await self.existing(db):
            await delete_all(db[name], dict(query))


class SlicedInserts:
    """Unique-key inserts into the slice of each record's time, concurrent ones sharing a
    round trip (``GroupInsert``) per slice; the writers of the slices written to lately are
    kept, the oldest slice's goes first."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], slices: TimeSlices) -> None:
        self._db = db
        self._slices = slices
        self._writers: dict[int, GroupInsert] = {}

    def insert(self, at: float, doc: dict[str, Any]) -> asyncio.Future[bool]:
        """``GroupInsert.insert`` into the slice of ``at`` (epoch seconds)."""
        number = self._slices.number(at)
        writer = self._writers.get(number)
        if writer is None:
            if len(self._writers) >= WRITERS_KEPT:
                del self._writers[min(self._writers)]
            writer = self._writers[number] = GroupInsert(self._db[self._slices.name(at)])
        return writer.insert(doc)
