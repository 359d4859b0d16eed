"""Rules at rest: ``wxp_t_{tenant}.replies_rules``, one document per rule.

A document keeps the rule's JSON as validated (so the API answers what was sent) and
a creation sequence that breaks priority ties. Rules are read whole per tenant: a
tenant has at most ``limit`` of them (a setting, 10,000 by default), and the compiled set
is cached per process. Reading tolerates any document: what does not validate is the
loader's to skip (``stored_rules.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.platform.storage import Client, PyMongoError, tenant_db_name

COLLECTION = "replies_rules"


def public(doc: dict[str, Any]) -> dict[str, Any]:
    rule = doc.get("rule")
    return {**(rule if isinstance(rule, dict) else {}), "id": str(doc["_id"])}


def rank(doc: dict[str, Any]) -> tuple[bool, int, int, str]:
    """Highest priority first, then oldest; documents without them last."""
    rule, seq = doc.get("rule"), doc.get("seq")
    priority = rule.get("priority") if isinstance(rule, dict) else None
    valid = isinstance(priority, int)
    return (
        not valid,
        -priority if isinstance(priority, int) else 0,
        seq if isinstance(seq, int) else 0,
        str(doc["_id"]),
    )


class RuleRepository:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._creating = asyncio.Lock()  # this process's creates take turns

    def _rules(self, tenant_id: str) -> AsyncCollection[dict[str, Any]]:
        return self._client[tenant_db_name(tenant_id)][COLLECTION]

    async def all(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every rule of the tenant, highest priority first, then oldest first."""
        docs = [doc async for doc in self._rules(tenant_id).find({})]
        docs.sort(key=rank)
        return [public(doc) for doc in docs]

    async def get(self, tenant_id: str, rule_id: str) -> dict[str, Any] | None:
        doc = await self._rules(tenant_id).find_one({"_id": rule_id})
        return public(doc) if doc is not None else None

    async def create(
        self, tenant_id: str, rule: dict[str, Any], *, limit: int
    ) -> dict[str, Any] | None:
        """Stores a new rule, unless the tenant has ``limit`` already (None then).

        Never more than ``limit``: a create that counts more than ``limit`` after its own
        insert takes its rule back. Of the creates that keep theirs, the one that counted
        last saw all the others, so it counted them all. This process's creates take turns,
        so only creates on different replicas racing for the last places can both take
        theirs back (both answer 422; a retry settles it)."""
        rules = self._rules(tenant_id)
        async with self._creating:
            if await rules.count_documents({}) >= limit:
                return None
            doc = {"_id": "r" + secrets.token_hex(6), "seq": time.time_ns(), "rule": rule}
            await rules.insert_one(doc)
            try:
                over = await rules.count_documents({}) > limit
            except PyMongoError:
                with contextlib.suppress(PyMongoError):
                    await rules.delete_one({"_id": doc["_id"]})
                raise
            if over:
                await rules.delete_one({"_id": doc["_id"]})
                return None
        return public(doc)

    async def replace(
        self, tenant_id: str, rule_id: str, rule: dict[str, Any]
    ) -> dict[str, Any] | None:
        result = await self._rules(tenant_id).update_one({"_id": rule_id}, {"$set": {"rule": rule}})
        return {**rule, "id": rule_id} if result.matched_count else None

    async def delete(self, tenant_id: str, rule_id: str) -> bool:
        return (await self._rules(tenant_id).delete_one({"_id": rule_id})).deleted_count == 1
