"""The gateway's records of events, in ``wxp_control``.

* ``gateway_seen``: one document per envelope id, inserted before publishing. The
  unique ``_id`` makes WeChat's retries (to any replica) publish nothing twice.
* ``gateway_published``: the broker confirmed it (written in batches, ``marks.py``).
* ``gateway_outbox``: events accepted while the broker was unreachable, kept until
  the relay has published them (in ``seq`` order), one relay at a time per event
  (``gateway_relay_claims``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.envelope import Envelope
from shared.storage import CONTROL_DB, Client, DuplicateKeyError


@dataclass(frozen=True, slots=True)
class Seen:
    published: bool
    age_seconds: float
    reply: dict[str, Any] | None


class EventStore:
    """Dedup and kept events. On FerretDB's SQLite backend only inserts use the ``_id``
    index (a find or update by ``_id`` reads the whole table), so the hot path only
    inserts: ``gateway_seen`` when an event arrives, ``gateway_published`` once the broker
    confirmed it. Lookups happen on the rare retry path only."""

    def __init__(self, client: Client) -> None:
        self._db = client[CONTROL_DB]

    async def first_sight(self, envelope: Envelope) -> bool:
        """Records the id; False when it was seen before (a retry or a redelivery)."""
        doc = {"_id": envelope.id, "tenant_id": envelope.tenant_id, "at": datetime.now(UTC)}
        try:
            await self._db.gateway_seen.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def seen(self, event_id: str) -> Seen | None:
        doc = await self._db.gateway_seen.find_one({"_id": event_id})
        if doc is None:
            return None
        done = await self._db.gateway_published.find_one({"_id": event_id})
        age = (datetime.now(UTC) - doc["at"]).total_seconds()
        reply = done.get("reply") if done is not None else None
        return Seen(published=done is not None, age_seconds=age, reply=reply)

    async def mark_published(
        self, event_id: str, tenant_id: str, reply: dict[str, Any] | None = None
    ) -> None:
        """Notes that the broker confirmed the event, with the passive reply it got, if any."""
        doc: dict[str, Any] = {"_id": event_id, "tenant_id": tenant_id, "at": datetime.now(UTC)}
        if reply is not None:
            doc["reply"] = reply
        with contextlib.suppress(DuplicateKeyError):
            await self._db.gateway_published.insert_one(doc)

    async def keep(self, envelope: Envelope, headers: dict[str, Any]) -> None:
        """Keeps an event to publish later; idempotent per envelope id."""
        doc = {
            "_id": envelope.id,
            "seq": time.time_ns(),
            "tenant_id": envelope.tenant_id,
            "routing_key": envelope.routing_key,
            "body": envelope.to_bytes(),
            "headers": headers,
        }
        with contextlib.suppress(DuplicateKeyError):
            await self._db.gateway_outbox.insert_one(doc)

    async def kept(self, limit: int) -> list[dict[str, Any]]:
        cursor = self._db.gateway_outbox.find({}).sort("seq", 1).limit(limit)
        return [doc async for doc in cursor]

    async def release(self, event_id: str, tenant_id: str) -> None:
        await self._db.gateway_outbox.delete_one({"_id": event_id})
        await self.mark_published(event_id, tenant_id)

    async def purge_seen(self, older_than: timedelta) -> int:
        """Forgets ids older than the dedup window (FerretDB has no TTL indexes)."""
        cutoff = {"at": {"$lt": datetime.now(UTC) - older_than}}
        await self._db.gateway_published.delete_many(cutoff)
        result = await self._db.gateway_seen.delete_many(cutoff)
        return result.deleted_count


class RelayClaims:
    """One relay at a time publishes a kept event: a claim is a unique-key insert."""

    def __init__(self, client: Client, *, stale_after: timedelta) -> None:
        self._claims = client[CONTROL_DB].gateway_relay_claims
        self._stale_after = stale_after

    async def claim(self, event_id: str) -> bool:
        now = datetime.now(UTC)
        await self._claims.delete_one({"_id": event_id, "at": {"$lt": now - self._stale_after}})
        try:
            await self._claims.insert_one({"_id": event_id, "at": now})
        except DuplicateKeyError:
            return False
        return True

    async def release(self, event_id: str) -> None:
        await self._claims.delete_one({"_id": event_id})
