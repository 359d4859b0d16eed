"""``wxp_control.gateway_seen``: one document per envelope id, inserted before publishing.

The unique ``_id`` makes WeChat's retries (to any replica) publish nothing twice. On
FerretDB's SQLite backend only inserts use the ``_id`` index (a find by ``_id`` reads the
whole table), so the hot path only inserts; lookups happen on the rare retry path.
Concurrent webhooks' inserts share one round trip (group commit), each still decided
by the unique key.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts.envelope import Envelope
from shared.platform.group_commit import GroupInsert
from shared.platform.storage import CONTROL_DB, Client, delete_all


class DedupStore:
    def __init__(self, client: Client) -> None:
        self._seen = client[CONTROL_DB].gateway_seen
        self._inserts = GroupInsert(self._seen)

    def first_sight(self, envelope: Envelope[Any]) -> asyncio.Future[bool]:
        """Records the id; the future says False when it was seen before (a retry or a
        redelivery)."""
        doc = {"_id": envelope.id, "tenant_id": envelope.tenant_id, "at": datetime.now(UTC)}
        return self._inserts.insert(doc)

    async def seen_at(self, event_id: str) -> datetime | None:
        doc = await self._seen.find_one({"_id": event_id})
        return None if doc is None else doc["at"]

    async def purge(self, older_than: timedelta) -> int:
        """Forgets ids older than the dedup window (FerretDB has no TTL indexes)."""
        return await delete_all(self._seen, {"at": {"$lt": datetime.now(UTC) - older_than}})

    async def forget_tenant(self, tenant_id: str) -> None:
        await delete_all(self._seen, {"tenant_id": tenant_id})
