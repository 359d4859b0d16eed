"""Where analytics keeps what it counts, per tenant (``wxp_t_{id}``).

- ``analytics_events``: the raw log, one fact per envelope (types, keys, times; never a
  message's content), ``_id`` the envelope id. The unique id makes every envelope count
  once however often it is delivered: a redelivery's insert is a duplicate and changes
  nothing. Every figure is computed from this log (or from a day finalized from it), so
  there are no counters to double. Kept ``WXP_ANALYTICS_RAW_DAYS`` (35).
- ``analytics_days``: a day's figures, written once the day is older than the raw log
  keeps (``_id`` the date; the first writer wins, later ones find it there).
- ``analytics_readers``: each reader's latest follow event (subscribe or unsubscribe, when,
  and the channel), which outlives the raw log: followers known without a baseline.
- ``analytics_state``: the latest baseline, the send hour last published, and the
  broadcasts whose 24-hour impact is still to publish.

Inserts of concurrent deliveries share one round trip per tenant (``GroupInsert``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.analytics.facts import FOLLOW, UNFOLLOW, Fact
from shared.platform.group_commit import GroupInsert
from shared.platform.storage import CONTROL_DB, Client, tenant_db_name

Doc = dict[str, Any]


class AnalyticsStore:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._inserts: dict[str, GroupInsert] = {}
        self._tenants: AsyncCollection[Doc] = client[CONTROL_DB].tenants
        self._indexed: set[str] = set()

    def _db(self, tenant_id: str, name: str) -> AsyncCollection[Doc]:
        return self._client[tenant_db_name(tenant_id)][name]

    async def record(self, tenant_id: str, fact: Fact) -> bool:
        """Keeps the fact; False when it was kept already (a redelivery)."""
        inserts = self._inserts.get(tenant_id)
        if inserts is None:
            inserts = GroupInsert(self._db(tenant_id, "analytics_events"))
            self._inserts[tenant_id] = inserts
        if len(self._inserts) > 5_000:  # tenants seen long ago: their writers are idle
            self._inserts = {tenant_id: inserts}
        new = await inserts.insert(fact.to_doc())
        if fact.kind in (FOLLOW, UNFOLLOW):
            await self._follow(tenant_id, fact)  # a redelivery writes the same again
        return new

    async def _follow(self, tenant_id: str, fact: Fact) -> None:
        """The reader's latest follow event wins (events may arrive out of order)."""
        readers = self._db(tenant_id, "analytics_readers")
        state = {"follow": fact.kind, "follow_at": fact.at, "channel": fact.key}
        newer = {"_id": fact.openid, "follow_at": {"$lte": fact.at}}
        result = await readers.update_one(newer, {"$set": state})
        if result.matched_count == 0:
            with contextlib.suppress(DuplicateKeyError):  # a later follow event is there
                await readers.insert_one({"_id": fact.openid, **state})

    async def facts(
        self, tenant_id: str, *, first_day: str, last_day: str, kinds: Sequence[str] = ()
    ) -> list[Fact]:
        query: Doc = {"day": {"$gte": first_day, "$lte": last_day}}
        if kinds:
            query["kind"] = {"$in": list(kinds)}
        cursor = self._db(tenant_id, "analytics_events").find(query)
        return [Fact.from_doc(doc) async for doc in cursor]

    async def answered(self, tenant_id: str, first_day: str) -> set[str]:
        """Ids of the events a reply answered, replies from ``first_day`` on."""
        cursor = self._db(tenant_id, "analytics_events").find(
            {"kind": "reply", "day": {"$gte": first_day}}, {"answers": 1}
        )
        return {str(doc["answers"]) async for doc in cursor if doc.get("answers")}

    async def finalized(self, tenant_id: str, first_day: str, last_day: str) -> list[Doc]:
        cursor = self._db(tenant_id, "analytics_days").find(
            {"_id": {"$gte": first_day, "$lte": last_day}}
        )
        return await cursor.to_list()

    async def finalize(self, tenant_id: str, day: Doc) -> None:
        with contextlib.suppress(DuplicateKeyError):  # another replica's: the same figures
            await self._db(tenant_id, "analytics_days").insert_one(day)

    async def purge(self, tenant_id: str, before_day: str) -> int:
        result = await self._db(tenant_id, "analytics_events").delete_many(
            {"day": {"$lt": before_day}}
        )
        return result.deleted_count

    async def following(self, tenant_id: str) -> int:
        """Readers whose latest follow event is a subscribe."""
        return await self._db(tenant_id, "analytics_readers").count_documents({"follow": FOLLOW})

    async def readers(self, tenant_id: str) -> list[Doc]:
        return await self._db(tenant_id, "analytics_readers").find({}).to_list()

    async def state(self, tenant_id: str, name: str) -> Doc | None:
        return await self._db(tenant_id, "analytics_state").find_one({"_id": name})

    async def set_state(self, tenant_id: str, name: str, value: Doc) -> None:
        doc = {"_id": name, **value}
        await self._db(tenant_id, "analytics_state").replace_one({"_id": name}, doc, upsert=True)

    async def ensure_indexes(self, tenant_id: str) -> None:
        """The raw log by day (MongoDB reads ranges by it; FerretDB scans)."""
        if tenant_id not in self._indexed:
            await self._db(tenant_id, "analytics_events").create_index([("day", ASCENDING)])
            self._indexed.add(tenant_id)

    async def due_impacts(self, until: datetime) -> list[Doc]:
        impacts = self._client[CONTROL_DB].analytics_impacts_due
        return await impacts.find({"due_at": {"$lte": until}}).to_list()

    async def expect_impact(self, key: str, tenant_id: str, fact: Fact, due_at: datetime) -> None:
        doc = {
            "_id": key,
            "tenant_id": tenant_id,
            "broadcast_id": fact.broadcast_id,
            "run_id": fact.run_id,
            "submitted_at": fact.at,
            "due_at": due_at,
        }
        impacts = self._client[CONTROL_DB].analytics_impacts_due
        await impacts.replace_one({"_id": key}, doc, upsert=True)

    async def impact_done(self, key: str) -> None:
        await self._client[CONTROL_DB].analytics_impacts_due.delete_one({"_id": key})

    async def save_impact(self, tenant_id: str, impact: Doc) -> None:
        """A broadcast's measured impact (``_id``: broadcast/run), for stats/broadcasts."""
        impacts = self._db(tenant_id, "analytics_impacts")
        await impacts.replace_one({"_id": impact["_id"]}, impact, upsert=True)

    async def impacts(self, tenant_id: str) -> list[Doc]:
        return await self._db(tenant_id, "analytics_impacts").find({}).to_list()

    async def tenants(self) -> list[Doc]:
        """Every tenant, with what the overview shows."""
        cursor = self._tenants.find({}, {"name": 1, "timezone": 1})
        return await cursor.to_list()

    async def tenant(self, tenant_id: str) -> Doc | None:
        return await self._tenants.find_one({"_id": tenant_id}, {"name": 1, "timezone": 1})


def newest(docs: Iterable[Doc], field: str) -> datetime | None:
    values = [doc[field] for doc in docs if isinstance(doc.get(field), datetime)]
    return max(values) if values else None
