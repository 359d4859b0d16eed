"""'The broker confirmed it' notes, written in batches off the request path.

A note in ``wxp_gateway.gateway_published`` tells a later WeChat retry that its event is
on the bus (and which passive reply it got). Writing one per request would cost every
webhook a database round trip; one ``insert_many`` per interval costs a fraction of that.
A note that is lost (the database was down) only means that a retry arriving after the
grace period is published again, which consumers absorb: they are idempotent on the id.

The notes have a database of their own, apart from the dedup records in ``wxp_control``
that every webhook inserts before publishing: where a write lock covers a database
(FerretDB's SQLite backend: one file, one writer), a batch of a few hundred notes held
the lock the webhooks' inserts were waiting on (the README's Benchmarks say how much).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import BulkWriteError

from shared.contracts.codec import DecodeError
from shared.contracts.reply import PassiveAnswer
from shared.platform.storage import (
    Client,
    PyMongoError,
    delete_all,
    only_duplicates,
)
from shared.platform.supervision import idle, stopping

logger = logging.getLogger(__name__)
NOTES_DB = "wxp_gateway"  # short-lived, written in bulk: apart from wxp_control's dedup records
MAX_PENDING = 20_000  # beyond this, while the database is away, the oldest notes are dropped
RECENT = 20_000  # notes this replica remembers, for retries that reach it before a flush


@dataclass(frozen=True, slots=True)
class Published:
    answer: PassiveAnswer | None  # the passive reply WeChat got, if any


class PublishedMarks:
    def __init__(self, client: Client, *, interval: float = 0.25, batch: int = 500) -> None:
        self._collection = client[NOTES_DB].gateway_published
        self._interval = interval
        self._batch = batch
        self._pending: list[dict[str, Any]] = []
        self._recent: OrderedDict[str, Published] = OrderedDict()
        self._wake = asyncio.Event()

    def add(self, event_id: str, tenant_id: str, answer: PassiveAnswer | None = None) -> None:
        doc: dict[str, Any] = {"_id": event_id, "tenant_id": tenant_id, "at": datetime.now(UTC)}
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
                await self._collection.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                if not only_duplicates(exc):
                    logger.warning("some published notes were refused: %s", exc)
            except PyMongoError as exc:
                if stopping():
                    raise
                logger.warning("published notes not written (%s); retrying later", exc)
                self._pending = (docs + self._pending)[-MAX_PENDING:]
                return

    async def lookup(self, event_id: str) -> Published | None:
        """The note of a published event (the retry path only: a full scan on FerretDB).
        This replica's own recent notes answer first, written to the database or not."""
        recent = self._recent.get(event_id)
        if recent is not None:
            return recent
        doc = await self._collection.find_one({"_id": event_id})
        if doc is None:
            return None
        try:
            answer = None if doc.get("reply") is None else PassiveAnswer.from_json(doc["reply"])
        except DecodeError:
            logger.warning("unreadable reply noted for %s; answering success", event_id)
            answer = None
        return Published(answer=answer)

    async def purge(self, older_than: timedelta) -> None:
        await delete_all(self._collection, {"at": {"$lt": datetime.now(UTC) - older_than}})

    async def forget_tenant(self, tenant_id: str) -> None:
        await delete_all(self._collection, {"tenant_id": tenant_id})
