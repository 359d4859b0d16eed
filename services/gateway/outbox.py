"""``wxp_control.gateway_outbox``: events accepted while the broker was unreachable, kept
until the relay has published them (in ``seq`` order); ``gateway_relay_claims``: which
relay publishes a kept event now (a claim is a unique-key insert, so only one does)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts.envelope import Envelope
from shared.platform.storage import CONTROL_DB, Client, DuplicateKeyError


@dataclass(frozen=True, slots=True)
class Kept:
    event_id: str
    tenant_id: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any]


class Outbox:
    def __init__(self, client: Client, *, stale_claim_after: timedelta) -> None:
        db = client[CONTROL_DB]
        self._outbox = db.gateway_outbox
        self._claims = db.gateway_relay_claims
        self._stale_after = stale_claim_after

    async def keep(self, envelope: Envelope[Any]) -> None:
        """Keeps an event to publish later; idempotent per envelope id."""
        doc = {
            "_id": envelope.id,
            "seq": time.time_ns(),
            "tenant_id": envelope.tenant_id,
            "routing_key": envelope.routing_key,
            "body": envelope.to_bytes(),
            "headers": {},
        }
        with contextlib.suppress(DuplicateKeyError):
            await self._outbox.insert_one(doc)

    async def kept(self, limit: int) -> list[Kept]:
        cursor = self._outbox.find({}).sort("seq", 1).limit(limit)
        return [
            Kept(d["_id"], d["tenant_id"], d["routing_key"], d["body"], d.get("headers") or {})
            async for d in cursor
        ]

    async def claim(self, event_id: str) -> bool:
        now = datetime.now(UTC)
        await self._claims.delete_one({"_id": event_id, "at": {"$lt": now - self._stale_after}})
        try:
            await self._claims.insert_one({"_id": event_id, "at": now})
        except DuplicateKeyError:
            return False
        return True

    async def unclaim(self, event_id: str) -> None:
        await self._claims.delete_one({"_id": event_id})

    async def release(self, event_id: str) -> None:
        """The event is on the bus: forget it, then its claim."""
        await self._outbox.delete_one({"_id": event_id})
        await self._claims.delete_one({"_id": event_id})

    async def forget_tenant(self, tenant_id: str) -> None:
        await self._outbox.delete_many({"tenant_id": tenant_id})
