"""``wxp_control.gateway_outbox``: events the broker did not confirm in time, kept until
a relay has published them, in ``seq`` order; ``gateway_relay_claims``: who publishes a
kept event now.

A claim is a unique-key insert, the one write FerretDB makes atomic between clients (a
conditional update is not: two replicas can both match the same document). After
inserting its claims, a replica reads the events again and publishes only those still
kept: a replica that claims from a stale snapshot, just after another released an
event, finds it gone and lets go. Releasing writes the events' published notes
(``wxp_gateway.gateway_published_<n>``, which WeChat's retries read) before deleting them, in one
insert and one delete per batch: on FerretDB an update of many documents costs several
times a delete of as many.

An event whose direct publish is still waiting for a late confirm is kept with a claim
already held (``hold``), inserted first, so no relay publishes it while that confirm may
still arrive.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.gateway.marks import NOTES_DB, insert_notes
from shared.contracts.envelope import Envelope
from shared.platform.storage import (
    CONTROL_DB,
    Client,
    DuplicateKeyError,
    delete_all,
)

Collection = AsyncCollection[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Kept:
    event_id: str
    tenant_id: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Claimed:
    event_ids: list[str]  # held by this replica now, still kept, in kept order
    stopped: bool  # the run ended at an event someone else holds: relay no further


@dataclass(frozen=True, slots=True)
class Collections:
    outbox: Collection
    claims: Collection
    notes: AsyncDatabase[dict[str, Any]]  # of the published notes (services/gateway/marks.py)

    @classmethod
    def of(cls, client: Client) -> Collections:
        db = client[CONTROL_DB]
        return cls(db.gateway_outbox, db.gateway_relay_claims, client[NOTES_DB])


class Outbox:
    def __init__(self, collections: Collections, *, replica: str, claim_for: timedelta) -> None:
        self._outbox, self._claims = collections.outbox, collections.claims
        self._notes = collections.notes
        self._replica = replica
        self._claim_for = claim_for

    async def keep(self, envelope: Envelope[Any], *, hold: float = 0.0) -> None:
        """Keeps an event to publish later; idempotent per envelope id. ``hold`` > 0 keeps
        it claimed by this replica for that many seconds (its confirm may still come)."""
        if hold > 0:
            await self._insert_claim(envelope.id, timedelta(seconds=hold))
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
        """The oldest events kept, claimed or not."""
        cursor = self._outbox.find({}).sort("seq", 1).limit(limit)
        return [
            Kept(d["_id"], d["tenant_id"], d["routing_key"], d["body"], d.get("headers") or {})
            async for d in cursor
        ]

    async def claim(self, event_ids: list[str]) -> Claimed:
        """Claims the leading run of ``event_ids`` (kept order) that nobody else holds, in
        one insert; then keeps those still waiting, read after claiming (in one query)."""
        until = datetime.now(UTC) + self._claim_for
        docs = [{"_id": event_id, "until": until, "by": self._replica} for event_id in event_ids]
        inserted, stopped = await self._insert_claims(docs)
        # Stopped at a claim that expired (a replica died holding it): take it over and go
        # on, so a dead replica's run of claims is relayed in one pass, not one a pass.
        while stopped and inserted < len(docs) and await self._take_over(event_ids[inserted]):
            more, stopped = await self._insert_claims(docs[inserted + 1 :])
            inserted += 1 + more
        held = event_ids[:inserted]
        if not held:
            return Claimed([], stopped=True)
        cursor = self._outbox.find({"_id": {"$in": held}}, projection={"_id": 1})
        waiting = {doc["_id"] async for doc in cursor}
        gone = [event_id for event_id in held if event_id not in waiting]
        if gone:  # published (or forgotten) since the caller's snapshot
            await self._claims.delete_many({"_id": {"$in": gone}, "by": self._replica})
        return Claimed([event_id for event_id in held if event_id in waiting], stopped)

    async def _insert_claims(self, docs: list[dict[str, Any]]) -> tuple[int, bool]:
        """How many of ``docs`` (in order) were inserted, and whether a claim stopped them."""
        if not docs:
            return 0, False
        try:
            await self._claims.insert_many(docs, ordered=True)
        except BulkWriteError as exc:
            return int(exc.details.get("nInserted", 0)), True
        return len(docs), False

    async def _take_over(self, event_id: str) -> bool:
        """The claim of a replica that died (it expired) gives way to this one."""
        expired = {"_id": event_id, "until": {"$lt": datetime.now(UTC)}}
        taken = await self._claims.delete_one(expired)
        return taken.deleted_count == 1 and await self._insert_claim(event_id, self._claim_for)

    async def _insert_claim(self, event_id: str, length: timedelta) -> bool:
        until = datetime.now(UTC) + length
        try:
            await self._claims.insert_one({"_id": event_id, "until": until, "by": self._replica})
        except DuplicateKeyError:
            return False
        return True

    async def unclaim(self, event_ids: list[str]) -> None:
        await self._claims.delete_many({"_id": {"$in": event_ids}, "by": self._replica})

    async def release(self, published: Mapping[str, str]) -> None:
        """The events (id -> tenant id) are on the bus: their notes first, so a retry finds
        them published; then out of the outbox, and their claims with them. A replica that
        claims one afresh from a stale read then finds it gone when it reads again, and
        lets go; and the claims stay few: on FerretDB a write filtered on anything but
        one ``_id`` scans the collection, so a claims collection that kept every claim
        until the purge made each claim and release slower as the day went on."""
        now = datetime.now(UTC)
        notes = [{"_id": event_id, "tenant_id": t, "at": now} for event_id, t in published.items()]
        await insert_notes(self._notes, notes)
        await self._outbox.delete_many({"_id": {"$in": list(published)}})
        await self._claims.delete_many({"_id": {"$in": list(published)}})

    async def holds(self, event_id: str) -> bool:
        """For a WeChat retry: is this event kept, waiting for the relay? (By ``_id`` alone:
        the one filter FerretDB answers from its key; any other field makes it a scan.)"""
        return await self._outbox.find_one({"_id": event_id}, projection={"_id": 1}) is not None

    async def purge(self, older_than: timedelta) -> None:
        """Forgets claims older than the dedup window (kept events stay until published)."""
        await delete_all(self._claims, {"until": {"$lt": datetime.now(UTC) - older_than}})

    async def forget_tenant(self, tenant_id: str) -> None:
        await delete_all(self._outbox, {"tenant_id": tenant_id})
