"""``wxp_t_{tenant}.replies_inbox``: readers' messages no rule answered, one document per
event (``_id`` the event id, so a redelivery or a second path finds it there and changes
nothing). The one module that writes the collection; ``inbox.py`` holds its rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.replies.inbox import ANSWERED, CLOSED, FAILED, OPEN, REPLYING, new_item
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.platform.storage import (
    Client,
    DuplicateKeyError,
    delete_in_batches,
    tenant_db_name,
)

COLLECTION = "replies_inbox"
NEWEST_FIRST = [("received_at", -1), ("_id", -1)]
Doc = dict[str, Any]


class UnknownCursor(LookupError):
    """A ``before`` that names no item (purged since, or never there)."""


class InboxStore:
    def __init__(self, client: Client, *, window: timedelta, clock: Callable[[], datetime]) -> None:
        self._client = client
        self._window = window  # WeChat's window after a reader's message
        self._clock = clock

    def _inbox(self, tenant_id: str) -> AsyncCollection[Doc]:
        return self._client[tenant_db_name(tenant_id)][COLLECTION]

    async def record(self, event: Envelope[WeChatMessage]) -> bool:
        """Keeps an unanswered reader's message; False when it is there already, or is no
        reader's message (an event)."""
        doc = new_item(event, self._window, self._clock())
        if doc is None:
            return False
        try:
            await self._inbox(event.tenant_id).insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, tenant_id: str, event_id: str) -> Doc | None:
        return await self._inbox(tenant_id).find_one({"_id": event_id})

    async def page(
        self, tenant_id: str, *, status: str | None, limit: int, before: str | None
    ) -> tuple[list[Doc], str | None]:
        """Up to ``limit`` items, newest first, after the item ``before`` (``status`` None:
        every status); and the cursor of the next page (None: this is the last)."""
        query: Doc = {} if status is None else {"status": status}
        if before is not None:
            last = await self.get(tenant_id, before)
            if last is None:
                raise UnknownCursor(before)
            at = last["received_at"]
            query["$or"] = [
                {"received_at": {"$lt": at}},
                {"received_at": at, "_id": {"$lt": last["_id"]}},
            ]
        found = self._inbox(tenant_id).find(query).sort(NEWEST_FIRST).limit(limit + 1)
        docs = [doc async for doc in found]
        more = len(docs) > limit
        return docs[:limit], str(docs[limit - 1]["_id"]) if more else None

    async def _set(self, tenant_id: str, event_id: str, changes: Doc) -> None:
        await self._inbox(tenant_id).update_one({"_id": event_id}, {"$set": changes})

    async def replying(
        self, tenant_id: str, event_id: str, *, by: Doc, note: str | None, reply: Doc
    ) -> None:
        """An answer is on its way (who sent it, and what, stay for ``answered``)."""
        changes = {"status": REPLYING, "answered_by": by, "note": note, "reply": reply}
        await self._set(tenant_id, event_id, {**changes, "error": None})

    async def answered(self, tenant_id: str, event_id: str, at: datetime) -> None:
        await self._set(tenant_id, event_id, {"status": ANSWERED, "answered_at": at})

    async def reopen(self, tenant_id: str, event_id: str, error: str) -> None:
        """Nothing went out: open again, saying why."""
        changes = {"status": OPEN, "error": error, "answered_by": None, "reply": None}
        await self._set(tenant_id, event_id, changes)

    async def failed(self, tenant_id: str, event_id: str, error: str) -> None:
        await self._set(tenant_id, event_id, {"status": FAILED, "error": error})

    async def close(
        self, tenant_id: str, event_id: str, *, by: Doc, note: str | None, at: datetime
    ) -> bool:
        """Closes an open or failed item; False when it was neither by then."""
        changes = {"status": CLOSED, "closed_by": by, "closed_at": at}
        if note is not None:
            changes["note"] = note
        result = await self._inbox(tenant_id).update_one(
            {"_id": event_id, "status": {"$in": [OPEN, FAILED]}}, {"$set": changes}
        )
        return result.matched_count == 1

    async def purge(self, tenant_id: str, before: datetime, *, batch: int) -> int:
        """Deletes the items received before ``before``, ``batch`` at a time."""
        old = {"received_at": {"$lt": before}}
        return await delete_in_batches(self._inbox(tenant_id), old, batch=batch)
