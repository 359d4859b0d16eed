"""Group commit: concurrent unique-key inserts into one collection share one round trip.

Each caller awaits its own answer; a writer sends whatever is waiting as one
``insert_many(ordered=False)`` and, while that is in flight, the next callers gather
for the next batch. Nobody waits on a timer: a lone insert goes at once, and under
load a batch holds the inserts that arrived during the previous one (about a round
trip's worth). The database's per-command cost, and pymongo's, is paid once a batch
instead of once an insert; each insert keeps its own outcome: inserted, a duplicate
key (the unique ``_id`` is still the arbiter), or the error that stopped it.
``GroupAppend`` does the same for items that need no key of their own, many to one
document.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from shared.platform.storage import DUPLICATE_KEY

T = TypeVar("T")


class GroupInsert:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], *, max_batch: int = 500):
        self._collection = collection
        self._max_batch = max_batch
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    def insert(self, doc: dict[str, Any]) -> asyncio.Future[bool]:
        """The future of ``doc``'s insert: True when it was inserted, False when its
        ``_id`` was there already, or what the database raised for it. A future, not a
        coroutine: a caller bounds its wait on it without a task of its own
        (``services/gateway/bounded.py``). Cancelling it does not unsend the insert."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((doc, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return answer

    async def _write(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                outcomes = await self._send([doc for doc, _ in batch])
            except PyMongoError as exc:  # nothing says which landed: each caller hears it
                outcomes = [exc] * len(batch)
            for (_, answer), outcome in zip(batch, outcomes, strict=True):
                if answer.done():  # its caller stopped waiting
                    continue
                if isinstance(outcome, BaseException):
                    answer.set_exception(outcome)
                else:
                    answer.set_result(outcome)

    async def _send(self, docs: list[dict[str, Any]]) -> list[bool | PyMongoError]:
        try:
            await self._collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            outcomes: list[bool | PyMongoError] = [True] * len(docs)
            for error in exc.details.get("writeErrors", []):
                index = error["index"]
                if error.get("code") == DUPLICATE_KEY:
                    outcomes[index] = False
                else:
                    outcomes[index] = PyMongoError(error.get("errmsg", "write error"))
            return outcomes
        return [True] * len(docs)


class GroupAppend(Generic[T]):
    """Concurrent callers' items in one document (``pack`` makes it of a batch): one
    insert carries them all, and each caller waits for the insert that carries its item.
    For a log whose entries need no key of their own (a later reader dedups them): a
    database that pays per document and per field pays once a batch.

    With ``linger`` (seconds), a batch waits that long for company before it goes, unless
    it fills first: at a moderate rate, concurrent callers are few within one round trip,
    and a short wait turns one document per item into one per many. Only for callers
    that can wait (a consumer whose ack follows the write; not a webhook).

    With ``writers`` above one, a batch that is ready goes while earlier ones are still
    in flight, up to that many inserts at once: on a slow database the callers of the
    next batch need not wait out the previous round trip as well as their own."""

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        pack: Callable[[list[T]], dict[str, Any]],
        *,
        max_items: int = 1_000,
        linger: float = 0.0,
        writers: int = 1,
    ) -> None:
        self._collection = collection
        self._pack = pack
        self._max_items = max_items
        self._linger = linger
        self._full = asyncio.Event()
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(writers)
        self._inserts: set[asyncio.Task[None]] = set()

    async def append(self, item: T) -> None:
        """Returns once ``item`` is stored; raises what the database raised for its batch.
        Cancelling the wait does not unsend the insert."""
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if len(self._waiting) >= self._max_items:
            self._full.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await answer

    async def _write(self) -> None:
        while self._waiting:
            if self._linger > 0 and len(self._waiting) < self._max_items:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._linger)
            await self._slots.acquire()  # at most ``writers`` inserts in flight
            batch = self._waiting[: self._max_items]
            del self._waiting[: self._max_items]
            insert = asyncio.create_task(self._insert(batch))
            self._inserts.add(insert)
            insert.add_done_callback(self._inserts.discard)

    async def _insert(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        failed: PyMongoError | None = None
        try:
            await self._collection.insert_one(self._pack([item for item, _ in batch]))
        except PyMongoError as exc:
            failed = exc
        except BaseException:  # cancelled (shutting down), say: no caller waits forever
            for _, answer in batch:
                answer.cancel()
            raise
        finally:
            self._slots.release()
        for _, answer in batch:
            if answer.done():  # its caller stopped waiting
                continue
            if failed is not None:
                answer.set_exception(failed)
            else:
                answer.set_result(None)
