"""``wxp_t_{tenant}.replies_sent``: one document per event answered through the
customer-service API. The unique ``_id`` (the event id) is the claim: a redelivery,
WeChat's retry or a second replica finds it taken and sends nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.platform.storage import Client, DuplicateKeyError, tenant_db_name

COLLECTION = "replies_sent"


class SentStore:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _sent(self, tenant_id: str) -> AsyncCollection[dict[str, Any]]:
        return self._client[tenant_db_name(tenant_id)][COLLECTION]

    async def claim(
        self, tenant_id: str, event_id: str, *, openid: str, rule_id: str, at: datetime
    ) -> bool:
        doc = {"_id": event_id, "openid": openid, "rule_id": rule_id, "at": at, "status": "sending"}
        try:
            await self._sent(tenant_id).insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def sent_since(self, tenant_id: str, openid: str, since: datetime) -> int:
        query = {"openid": openid, "status": "sent", "at": {"$gte": since}}
        return await self._sent(tenant_id).count_documents(query)

    async def finish(self, tenant_id: str, event_id: str, status: str) -> None:
        await self._sent(tenant_id).update_one({"_id": event_id}, {"$set": {"status": status}})

    async def unclaim(self, tenant_id: str, event_id: str) -> None:
        """Nothing went out: let a redelivery try again."""
        await self._sent(tenant_id).delete_one({"_id": event_id})
