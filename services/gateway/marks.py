"""'The broker confirmed it' notes, written in batches off the request path.

A note in ``wxp_gateway.gateway_published_<n>`` (the slice of the time it was written:
``shared/platform/slices.py``; a lookup reads every slice of the window) tells a later
WeChat retry that its event is on the bus (and which passive reply it got). Writing one per
request would cost every webhook a database round trip; one ``insert_many`` per interval
costs a fraction of that. A note that is lost (the database was down) only means that a
retry arriving after the grace period is published again, which consumers absorb: they are
idempotent on the id.

The notes have a database of their own, apart from the dedup records in ``wxp_control``
that every webhook inserts before publishing: where a write lock covers a database
(FerretDB's SQLite backend: one file, one writer), a batch of a few hundred notes held
the lock the webhooks' inserts were waiting on (the README's Benchmarks say how much).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.contracts.codec import DecodeError
from shared.contracts.reply import PassiveAnswer
from shared.platform.slices import TimeSlices
from shared.platform.storage import (
    Client,
    PyMongoError,
    only_duplicates,
)
from shared.platform.supervision import idle, stopping

logger = logging.getLogger(__name__)
NOTES_DB = "wxp_gateway"  # short-lived, written in bulk: apart from wxp_control's dedup records
MAX_PENDING = 20_000  # beyond this, while the database is away, the oldest notes are dropped
RECENT = 20_000  # notes this replica remembers, for retries that reach it before a flush
NOTES = TimeSlices("gateway_published_", 300.0, legacy="gateway_published")


@dataclass(frozen=True, slots=True)
class Published:
    answer: PassiveAnswer | None  # the passive reply WeChat got, if any


class PublishedMarks:
    def __init__(
        self,
        client: Client,
        *,
        window: timedelta,
        interval: float = 0.25,
        batch: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = client[NOTES_DB]
        self._window = window.total_seconds()
        self._clock = clock
        self._interval = interval
        self._batch = batch
        self._pending: list[dict[str, Any]] = []
        self._recent: OrderedDict[str, Published] = OrderedDict()
        self._wake = asyncio.Event()

    def add(self, event_id: str, tenant_id: str, answer: PassiveAnswer | None = None) -> None:
        doc: dict[str, Any] = {
            "_id": event_id,
            "tenant_id": tenant_id,
            "at": datetime.fromtimestamp(self._clock(), UTC),
        }
        if answer is not None:
            doc["reply"] = answer.to_json()
        self._pending.append(doc)
        self._recent[event_id] = Published(answer=answer)
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        if len(self._pending) >= self._batch:
            self._wake.set()

    async def run(self) -> None:
        """Flushes every ``interval`` (sooner when a batch fills) until cancelled."""
        while True:
            await idle(self._interval, self._wake)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        while self._pending:
            docs, self._pending = self._pending[: self._batch], self._pending[self._batch :]
            try:
                await insert_notes(self._db, docs)
            except BulkWriteError as exc:
                logger.warning("some published notes were refused: %s", exc)
            except PyMongoError as exc:
                if stopping():
                    raise
                logger.warning("published notes not written (%s); retrying later", exc)
                self._pending = (docs + self._pending)[-MAX_PENDING:]
                return

    async def lookup(self, event_id: str) -> Published | None:
        """The note of a published event (the retry path only), from the newest slice of the
        window to the oldest. This replica's own recent notes answer first, written to the
        database or not."""
        recent = self._recent.get(event_id)
        if recent is not None:
            return recent
        for name in NOTES.live(self._clock(), self._window):
            doc = await self._db[name].find_one({"_id": event_id})
            if doc is not None:
                break
        else:
            return None
        try:
            answer = None if doc.get("reply") is None else PassiveAnswer.from_json(doc["reply"])
        except DecodeError:
            logger.warning("unreadable reply noted for %s; answering success", event_id)
            answer = None
        return Published(answer=answer)

    async def purge(self, older_than: timedelta) -> None:
        """Drops the slices past ``older_than``, and the one collection of the notes before
        slices."""
        await NOTES.drop_expired(self._db, self._clock(), older_than.total_seconds())

    async def forget_tenant(self, tenant_id: str) -> None:
        await NOTES.delete_everywhere(self._db, {"tenant_id": tenant_id})


async def insert_notes(db: AsyncDatabase[dict[str, Any]], notes: list[dict[str, Any]]) -> None:
    """Each note into the slice of its ``at``: one ``insert_many`` a slice (a batch spans
    two at most, at a slice's end). Duplicates are notes written before, and pass; once
    every slice was tried, raises the BulkWriteError of any other refusal."""
    by_slice: dict[str, list[dict[str, Any]]] = {}
    for note in notes:
        by_slice.setdefault(NOTES.name(note["at"].timestamp()), []).append(note)
    refused: BulkWriteError | None = None
    for name, docs in by_slice.items():
        try:
            await db[name].insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if not only_duplicates(exc):
                refused = exc
    if refused is not None:
        raise refused
