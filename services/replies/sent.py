"""``wxp_t_{tenant}.replies_sent``: the claims on customer-service replies, one document
per attempt at an event (``claims.py`` holds the rules). The unique ``_id`` is the claim:
a redelivery, WeChat's retry or a second replica finds it taken. Each document is written
by the handler holding it, except that a later attempt marks its stale predecessor
``abandoned`` or ``unknown``. A person's answer to a reader inbox item claims here too
(``inbox_replies.py``: ``{event id}~inbox``, rule ``inbox``), so it counts toward the
reader's quota; the retention job (``retention.py``) deletes old claims."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.replies.claims import CALLING, SENDING, USED, Claim, attempt_ids
from shared.platform.storage import (
    Client,
    DuplicateKeyError,
    delete_in_batches,
    tenant_db_name,
)

COLLECTION = "replies_sent"


def claim_of(doc: dict[str, Any]) -> Claim | None:
    """The claim a document holds (None for one that is not a claim). Documents written
    before attempts and stages existed are attempt 0 and may have called WeChat."""
    at, status = doc.get("at"), doc.get("status")
    if not isinstance(at, datetime) or not isinstance(status, str):
        return None
    attempt = doc.get("attempt", 0)
    return Claim(
        event_id=str(doc.get("event_id", doc["_id"])),
        attempt=attempt if type(attempt) is int else 0,
        openid=str(doc.get("openid", "")),
        rule_id=str(doc.get("rule_id", "")),
        at=at,
        status=status,
        stage=str(doc.get("stage", CALLING)),
    )


class SentStore:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _sent(self, tenant_id: str) -> AsyncCollection[dict[str, Any]]:
        return self._client[tenant_db_name(tenant_id)][COLLECTION]

    async def insert(self, tenant_id: str, claim: Claim) -> bool:
        """Takes the claim; False when that attempt is taken already."""
        doc = {
            "_id": claim.id,
            "event_id": claim.event_id,
            "attempt": claim.attempt,
            "openid": claim.openid,
            "rule_id": claim.rule_id,
            "at": claim.at,
            "status": claim.status,
            "stage": claim.stage,
        }
        try:
            await self._sent(tenant_id).insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def attempts(self, tenant_id: str, event_id: str) -> list[Claim]:
        query = {"_id": {"$in": attempt_ids(event_id)}}
        found = [claim_of(doc) async for doc in self._sent(tenant_id).find(query)]
        return [claim for claim in found if claim is not None]

    async def claims_of(self, tenant_id: str, openid: str, since: datetime) -> list[Claim]:
        """The reader's claims since ``since`` that count, or may come to count, toward
        the quota."""
        statuses = [SENDING, *sorted(USED)]
        query = {"openid": openid, "at": {"$gte": since}, "status": {"$in": statuses}}
        found = [claim_of(doc) async for doc in self._sent(tenant_id).find(query)]
        return [claim for claim in found if claim is not None]

    async def mark_calling(self, tenant_id: str, claim: Claim) -> None:
        await self._sent(tenant_id).update_one({"_id": claim.id}, {"$set": {"stage": CALLING}})

    async def finish(self, tenant_id: str, claim: Claim, status: str) -> None:
        await self._sent(tenant_id).update_one({"_id": claim.id}, {"$set": {"status": status}})

    async def release(self, tenant_id: str, claim: Claim) -> None:
        """Nothing went out: the attempt is free again."""
        await self._sent(tenant_id).delete_one({"_id": claim.id})

    async def purge(self, tenant_id: str, before: datetime, *, batch: int) -> int:
        """Deletes the claims taken before ``before``, ``batch`` at a time: long past any
        window, quota or redelivery they guard."""
        return await delete_in_batches(self._sent(tenant_id), {"at": {"$lt": before}}, batch=batch)
