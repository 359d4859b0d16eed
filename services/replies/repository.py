"""Rules at rest: ``wxp_t_{tenant}.replies_rules``, one document per rule.

A document keeps the rule's JSON as validated (so the API answers what was sent) and
a creation sequence that breaks priority ties. Rules are read whole per tenant: a
tenant has at most a few thousand, and the compiled set is cached per process.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.platform.storage import Client, tenant_db_name

COLLECTION = "replies_rules"


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc["rule"], "id": doc["_id"]}


class RuleRepository:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _rules(self, tenant_id: str) -> AsyncCollection[dict[str, Any]]:
        return self._client[tenant_db_name(tenant_id)][COLLECTION]

    async def all(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every rule of the tenant, highest priority first, then oldest first."""
        docs = [doc async for doc in self._rules(tenant_id).find({})]
        docs.sort(key=lambda d: (-d["rule"]["priority"], d["seq"]))
        return [public(doc) for doc in docs]

    async def get(self, tenant_id: str, rule_id: str) -> dict[str, Any] | None:
        doc = await self._rules(tenant_id).find_one({"_id": rule_id})
        return public(doc) if doc is not None else None

    async def create(self, tenant_id: str, rule: dict[str, Any]) -> dict[str, Any]:
        doc = {"_id": "r" + secrets.token_hex(6), "seq": time.time_ns(), "rule": rule}
        await self._rules(tenant_id).insert_one(doc)
        return public(doc)

    async def replace(
        self, tenant_id: str, rule_id: str, rule: dict[str, Any]
    ) -> dict[str, Any] | None:
        result = await self._rules(tenant_id).update_one({"_id": rule_id}, {"$set": {"rule": rule}})
        return {**rule, "id": rule_id} if result.matched_count else None

    async def delete(self, tenant_id: str, rule_id: str) -> bool:
        return (await self._rules(tenant_id).delete_one({"_id": rule_id})).deleted_count == 1
