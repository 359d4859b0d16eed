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

A delivery's fact first lands in the shared inbox of its two seconds
(``wxp_analytics.inbox_N``): concurrent deliveries of every tenant share one insert
(``GroupInsert``), which is what lets one process count thousands of envelopes a second
across a thousand tenants' databases. Once no one writes to an inbox any more (10 s), the
fold moves it to the tenants, one insert per tenant, and drops it.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.analytics.facts import FOLLOW, UNFOLLOW, Fact
from shared.platform.group_commit import GroupInsert
from shared.platform.storage import CONTROL_DB, Client, only_duplicates, tenant_db_name

Doc = dict[str, Any]
ANALYTICS_DB = "wxp_analytics"  # the inboxes every tenant's facts pass through
INBOX = "inbox_"  # + the number of the INBOX_SECONDS slice the facts arrived in
INBOX_SECONDS = 2.0
INBOX_SETTLE = 10.0  # an inbox this much past its slice takes no more writes: folded


class AnalyticsStore:
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._writers: dict[str, GroupInsert] = {}
        self._tenants: AsyncCollection[Doc] = client[CONTROL_DB].tenants
        self._indexed: set[str] = set()

    def _db(self, tenant_id: str, name: str) -> AsyncCollection[Doc]:
        return self._client[tenant_db_name(tenant_id)][name]

    async def record(self, tenant_id: str, fact: Fact) -> bool:
        """Takes the fact into the inbox of the current few seconds (one round trip for
        all the deliveries in flight, whatever their tenant); False when it is there
        already (a redelivery within the same seconds)."""
        name = f"{INBOX}{int(self._clock() // INBOX_SECONDS)}"
        writer = self._writers.get(name)
        if writer is None:
            self._writers = {name: GroupInsert(self._client[ANALYTICS_DB][name], max_batch=1_000)}
            writer = self._writers[name]
        doc = {"_id": f"{tenant_id}/{fact.id}", "tenant": tenant_id, "fact": fact.to_doc()}
        return await writer.insert(doc)

    async def fold(self, *, settle: float = INBOX_SETTLE) -> int:
        """Moves the inboxes no one writes to any more (older than ``settle`` seconds)
        into their tenants' raw logs, one insert per tenant (a fact there already is a
        duplicate and changes nothing), sets the readers' follow state, then drops each
        inbox whole (FerretDB deletes by a list of ids slowly; a drop is cheap). Replicas
        may fold the same inbox at once: the outcome is the same. Answers the facts moved."""
        analytics = self._client[ANALYTICS_DB]
        closed = int((self._clock() - settle) // INBOX_SECONDS)
        names = sorted(
            n
            for n in await analytics.list_collection_names()
            if n.startswith(INBOX) and n[len(INBOX) :].isdigit() and int(n[len(INBOX) :]) < closed
        )
        moved = 0
        for name in names:
            docs = await analytics[name].find({}).to_list()
            await self._move(docs)
            await analytics.drop_collection(name)
            moved += len(docs)
        return moved

    async def _move(self, docs: list[Doc]) -> None:
        by_tenant: dict[str, list[Doc]] = defaultdict(list)
        for doc in docs:
            by_tenant[str(doc["tenant"])].append(doc["fact"])
        known = await self._tenants.find({"_id": {"$in": list(by_tenant)}}, {"_id": 1}).to_list()
        live = {str(doc["_id"]) for doc in known}
        for tenant_id, batch in by_tenant.items():
            if tenant_id not in live:
                continue  # offboarded meanwhile: its facts go with it
            await self.ensure_indexes(tenant_id)
            try:
                await self._db(tenant_id, "analytics_events").insert_many(batch, ordered=False)
            except BulkWriteError as exc:
                if not only_duplicates(exc):
                    raise
            for fact in (Fact.from_doc(doc) for doc in batch):
                if fact.kind in (FOLLOW, UNFOLLOW):
                    await self._follow(tenant_id, fact)

    async def _follow(self, tenant_id: str, fact: Fact) -> None:
        """The reader's latest follow event wins (events may arrive out of order)."""
        readers = self._db(tenant_id, "analytics_readers")
        state: Doc = {"follow": fact.kind, "follow_at": fact.at}
        if fact.kind == FOLLOW:  # an unsubscribe keeps the channel the reader came by
            state["channel"] = fact.key
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

    async def save_qrcode(self, tenant_id: str, code: Doc) -> None:
        codes = self._db(tenant_id, "analytics_qrcodes")
        await codes.replace_one({"_id": code["_id"]}, code, upsert=True)

    async def qrcodes(self, tenant_id: str) -> list[Doc]:
        return await self._db(tenant_id, "analytics_qrcodes").find({}).sort("_id").to_list()

    async def save_datacube(self, tenant_id: str, days: dict[str, Doc]) -> None:
        """WeChat's own daily figures by source, one document per day (replaced on a
        later backfill: WeChat's figures for a day do not change once published)."""
        cube = self._db(tenant_id, "analytics_datacube")
        for day, figures in days.items():
            await cube.replace_one({"_id": day}, {"_id": day, **figures}, upsert=True)

    async def tenants(self) -> list[Doc]:
        """Every tenant, with what the overview shows."""
        cursor = self._tenants.find({}, {"name": 1, "timezone": 1})
        return await cursor.to_list()

    async def tenant(self, tenant_id: str) -> Doc | None:
        fields = {"name": 1, "timezone": 1, "appid": 1}
        return await self._tenants.find_one({"_id": tenant_id}, fields)


def newest(docs: Iterable[Doc], field: str) -> datetime | None:
    values = [doc[field] for doc in docs if isinstance(doc.get(field), datetime)]
    return max(values) if values else None
