"""``wxp_control.gateway_seen_<n>``: one document per envelope id, inserted before
publishing, in the slice of the time the event occurred (``shared/platform/slices.py``).

The unique ``_id`` makes WeChat's retries (to any replica) publish nothing twice: a retry
carries the same CreateTime as its first attempt, so it meets that attempt's record in the
same slice. The hot path only inserts; lookups (by ``_id``) happen on the rare retry path.
Concurrent webhooks' inserts share one round trip (group commit), each still decided by
the unique key. The purge drops the slices that ended before the dedup window, and the
slices of times more than a day ahead (a clock gone wrong); a record of an event that
occurred before the window (it should not happen: WeChat retries within seconds) lands
in a slice the next purge drops, and consumers, idempotent on the id, absorb what that
lets through.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts.envelope import Envelope, parse_iso
from shared.platform.slices import SlicedInserts, TimeSlices
from shared.platform.storage import CONTROL_DB, Client

SEEN = TimeSlices("gateway_seen_", 300.0, legacy="gateway_seen")
AHEAD = 86_400.0  # slices further ahead than this are a clock gone wrong: purged


class DedupStore:
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time) -> None:
        self._db = client[CONTROL_DB]
        self._clock = clock
        self._inserts = SlicedInserts(self._db, SEEN)

    def first_sight(self, envelope: Envelope[Any]) -> asyncio.Future[bool]:
        """Records the id; the future says False when it was seen before (a retry or a
        redelivery)."""
        doc = {"_id": envelope.id, "tenant_id": envelope.tenant_id, "at": datetime.now(UTC)}
        return self._inserts.insert(_occurred(envelope), doc)

    async def seen_at(self, envelope: Envelope[Any]) -> datetime | None:
        doc = await self._db[SEEN.name(_occurred(envelope))].find_one({"_id": envelope.id})
        return None if doc is None else doc["at"]

    async def purge(self, older_than: timedelta) -> int:
        """Drops the slices past the dedup window (FerretDB has no TTL indexes), and the
        one collection of the records before slices; answers how many slices went."""
        window = older_than.total_seconds()
        return await SEEN.drop_expired(self._db, self._clock(), window, ahead=AHEAD)

    async def forget_tenant(self, tenant_id: str) -> None:
        await SEEN.delete_everywhere(self._db, {"tenant_id": tenant_id})


def _occurred(envelope: Envelope[Any]) -> float:
    return parse_iso(envelope.occurred_at).timestamp()
