"""Where the scheduler keeps its state.

Per tenant (``wxp_t_{id}``): ``broadcasts``; ``broadcast_runs`` (``{bid}:{run_id}``);
``broadcast_audiences`` (an openid list in batches of at most 10,000, ``{bid}:{n}``);
``broadcast_quota_slots`` (``{period}#{n}``: a unique insert reserves one of the period's
sends, so two creations can never overbook it); ``broadcast_reader_sends`` (the
per-reader ledger of list sends); ``scheduler_notes`` (the latest send-time advice and
broadcast impact analytics published).

In the control database: ``scheduler_due`` (the due index: one small document per run
that needs looking at, with when and the run's state, ``scheduled`` until a replica starts
it; every replica reads it), ``scheduler_claims``
(``{run}~{attempt}``: the replica that inserts it owns that attempt), ``scheduler_fates``
(``{run}``: ``send`` or ``cancel``, whichever is inserted first decides a race between
the runner and an operator), ``scheduler_msg_ids`` (WeChat's msg_id → its run) and
``scheduler_parked_reports`` (job-finish reports that came before their msg_id was known).

Every claim is a unique-key insert, atomic on MongoDB and FerretDB alike; each run
document is written only by the replica holding the run's current claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from services.scheduler.runs import Batch, Run
from shared.platform.storage import (
    CONTROL_DB,
    Client,
    DuplicateKeyError,
    only_duplicates,
    tenant_db_name,
)

Doc = dict[str, Any]
ORPHAN_SLOT_AGE = timedelta(minutes=1)  # a slot whose run was never written: freed after this


class BroadcastStore:
    def __init__(self, client: Client) -> None:
        self._client = client
        control = client[CONTROL_DB]
        self._tenants: AsyncCollection[Doc] = control.tenants
        self._due: AsyncCollection[Doc] = control.scheduler_due
        self._claims: AsyncCollection[Doc] = control.scheduler_claims
        self._fates: AsyncCollection[Doc] = control.scheduler_fates
        self._msg_ids: AsyncCollection[Doc] = control.scheduler_msg_ids
        self._parked: AsyncCollection[Doc] = control.scheduler_parked_reports

    def _db(self, tenant_id: str, name: str) -> AsyncCollection[Doc]:
        return self._client[tenant_db_name(tenant_id)][name]

    async def ensure_indexes(self) -> None:
        """The due index by time (MongoDB reads it by range; FerretDB scans it)."""
        await self._due.create_index([("due_at", ASCENDING)])

    async def tenant(self, tenant_id: str) -> Doc | None:
        return await self._tenants.find_one(
            {"_id": tenant_id}, {"timezone": 1, "account_type": 1, "appid": 1}
        )

    # -- broadcasts ---------------------------------------------------------------------
    async def insert_broadcast(self, tenant_id: str, doc: Doc) -> None:
        await self._db(tenant_id, "broadcasts").insert_one(doc)

    async def broadcast(self, tenant_id: str, broadcast_id: str) -> Doc | None:
        return await self._db(tenant_id, "broadcasts").find_one({"_id": broadcast_id})

    async def broadcasts(
        self, tenant_id: str, *, status: str | None, limit: int, after: str | None
    ) -> list[Doc]:
        query: Doc = {}
        if status is not None:
            query["status"] = status
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._db(tenant_id, "broadcasts").find(query).sort("_id", ASCENDING)
        return await cursor.limit(limit).to_list()

    async def update_broadcast(self, tenant_id: str, broadcast_id: str, **fields: Any) -> None:
        await self._db(tenant_id, "broadcasts").update_one({"_id": broadcast_id}, {"$set": fields})

    async def delete_broadcast(self, tenant_id: str, broadcast_id: str) -> None:
        prefix = {"$regex": f"^{broadcast_id}:"}
        for name in ("broadcast_runs", "broadcast_audiences"):
            await self._db(tenant_id, name).delete_many({"_id": prefix})
        await self._db(tenant_id, "broadcasts").delete_one({"_id": broadcast_id})

    async def save_audience(
        self, tenant_id: str, broadcast_id: str, batches: Sequence[Sequence[str]]
    ) -> None:
        docs = [
            {"_id": f"{broadcast_id}:{n}", "openids": list(openids)}
            for n, openids in enumerate(batches)
        ]
        if docs:
            await self._db(tenant_id, "broadcast_audiences").insert_many(docs, ordered=False)

    async def audience_batch(self, tenant_id: str, broadcast_id: str, index: int) -> list[str]:
        doc = await self._db(tenant_id, "broadcast_audiences").find_one(
            {"_id": f"{broadcast_id}:{index}"}
        )
        return [] if doc is None else [str(o) for o in doc["openids"]]

    # -- runs -----------------------------------------------------------------------------
    async def insert_run(self, run: Run) -> bool:
        """Writes a new run; False when it exists (the same due time of the same broadcast)."""
        try:
            doc = {"_id": run.doc_id, **_run_doc(run)}
            await self._db(run.tenant_id, "broadcast_runs").insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def save_run(self, run: Run) -> None:
        """Writes what the run's claim holder owns: everything but the batches' results."""
        await self._db(run.tenant_id, "broadcast_runs").update_one(
            {"_id": run.doc_id}, {"$set": _run_doc(run)}, upsert=True
        )

    async def save_result(self, run: Run, index: int, result: Doc) -> None:
        """A batch's job-finish report (from the event, or from ``mass/get``)."""
        await self._db(run.tenant_id, "broadcast_runs").update_one(
            {"_id": run.doc_id}, {"$set": {f"results.b{index}": result}}
        )

    async def run(self, tenant_id: str, broadcast_id: str, run_id: str) -> Run | None:
        doc = await self._db(tenant_id, "broadcast_runs").find_one(
            {"_id": f"{broadcast_id}:{run_id}"}
        )
        return None if doc is None else _run_of(tenant_id, doc)

    async def runs_of(self, tenant_id: str, broadcast_id: str) -> list[Run]:
        cursor = self._db(tenant_id, "broadcast_runs").find({"broadcast_id": broadcast_id})
        runs = [_run_of(tenant_id, doc) for doc in await cursor.to_list()]
        return sorted(runs, key=lambda r: r.due_at)

    async def runs_of_each(
        self, tenant_id: str, broadcast_ids: Sequence[str]
    ) -> dict[str, list[Run]]:
        """The runs of each of ``broadcast_ids``, in one query (by due time)."""
        runs: dict[str, list[Run]] = {bid: [] for bid in broadcast_ids}
        if not runs:
            return runs
        query = {"broadcast_id": {"$in": list(runs)}}
        for doc in await self._db(tenant_id, "broadcast_runs").find(query).to_list():
            runs[str(doc["broadcast_id"])].append(_run_of(tenant_id, doc))
        return {bid: sorted(found, key=lambda r: r.due_at) for bid, found in runs.items()}

    async def has_sent(self, tenant_id: str, broadcast_id: str) -> bool:
        """Has any run of the broadcast reached WeChat (or be on its way)?"""
        for run in await self.runs_of(tenant_id, broadcast_id):
            if run.msg_ids or run.status not in ("scheduled", "cancelled", "skipped"):
                return True
        return False

    async def runs_between(self, tenant_id: str, start: datetime, end: datetime) -> list[Run]:
        cursor = self._db(tenant_id, "broadcast_runs").find({"due_at": {"$gte": start, "$lt": end}})
        return [_run_of(tenant_id, doc) for doc in await cursor.to_list()]

    async def add_retraction(self, run: Run, retraction: Doc) -> None:
        await self._db(run.tenant_id, "broadcast_runs").update_one(
            {"_id": run.doc_id}, {"$push": {"retracted": retraction}}
        )

    # -- the due index, claims and fates --------------------------------------------------
    async def schedule(self, key: str, due_at: datetime, status: str) -> None:
        """Asks for ``key`` to be looked at ``due_at`` (replacing an earlier ask)."""
        doc = {"_id": key, "due_at": due_at, "status": status}
        await self._due.replace_one({"_id": key}, doc, upsert=True)

    async def mark_due(self, key: str, status: str) -> None:
        """Changes the status of ``key``'s entry, keeping its time (if it has one)."""
        await self._due.update_one({"_id": key}, {"$set": {"status": status}})

    async def unschedule(self, key: str) -> None:
        await self._due.delete_one({"_id": key})

    async def due(self, until: datetime) -> list[Doc]:
        return await self._due.find({"due_at": {"$lte": until}}).to_list()

    async def due_statuses(self) -> list[str]:
        return [str(d.get("status")) for d in await self._due.find({}, {"status": 1}).to_list()]

    async def claim(self, key: str, attempt: int, *, owner: str, until: datetime) -> bool:
        try:
            await self._claims.insert_one(
                {"_id": f"{key}~{attempt}", "owner": owner, "until": until}
            )
        except DuplicateKeyError:
            return False
        return True

    async def release_claim(self, key: str, attempt: int, *, now: datetime) -> None:
        """Ends the claim early (its holder is done), so the next step need not wait."""
        await self._claims.update_one({"_id": f"{key}~{attempt}"}, {"$set": {"until": now}})

    async def claim_until(self, key: str, attempt: int) -> datetime | None:
        doc = await self._claims.find_one({"_id": f"{key}~{attempt}"})
        return None if doc is None else doc.get("until")

    async def decide(self, key: str, fate: str) -> str:
        """Records ``fate`` for the run unless one is recorded; answers the one that holds."""
        try:
            await self._fates.insert_one({"_id": key, "fate": fate})
        except DuplicateKeyError:
            doc = await self._fates.find_one({"_id": key})
            return fate if doc is None else str(doc["fate"])
        return fate

    async def fate(self, key: str) -> str | None:
        """The run's recorded fate, if any (reading never decides it)."""
        doc = await self._fates.find_one({"_id": key})
        return None if doc is None else str(doc["fate"])

    async def forget_run(self, key: str, attempts: int) -> None:
        """Drops a deleted run's control records."""
        await self._due.delete_one({"_id": key})
        await self._fates.delete_one({"_id": key})
        ids = [f"{key}~{n}" for n in range(1, attempts + 2)]
        await self._claims.delete_many({"_id": {"$in": ids}})

    async def index_msg(self, tenant_id: str, msg_id: str, key: str) -> None:
        doc = {"_id": f"{tenant_id}/{msg_id}", "run": key}
        await self._msg_ids.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def run_of_msg(self, tenant_id: str, msg_id: str) -> str | None:
        doc = await self._msg_ids.find_one({"_id": f"{tenant_id}/{msg_id}"})
        return None if doc is None else str(doc["run"])

    async def park_report(self, tenant_id: str, msg_id: str, result: Doc) -> None:
        """A job-finish report that came before its run recorded the msg_id (the send's
        answer was lost, and a retry is still to learn it through 45065)."""
        doc = {"_id": f"{tenant_id}/{msg_id}", "result": result}
        await self._parked.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def parked_report(self, tenant_id: str, msg_id: str) -> Doc | None:
        doc = await self._parked.find_one({"_id": f"{tenant_id}/{msg_id}"})
        return None if doc is None else dict(doc["result"])

    # -- the quota ledger -------------------------------------------------------------------
    async def reserve_slot(
        self, tenant_id: str, period: str, limit: int, key: str, *, now: datetime
    ) -> bool:
        """Takes one of ``period``'s ``limit`` sends for run ``key``; False when all are
        taken. A slot whose run was never written (a crash between the two) is freed."""
        slots = self._db(tenant_id, "broadcast_quota_slots")
        for sweep in range(2):
            for n in range(1, limit + 1):
                doc = {"_id": f"{period}#{n}", "period": period, "run": key, "at": now}
                try:
                    await slots.insert_one(doc)
                except DuplicateKeyError:
                    continue
                return True
            if sweep == 0 and not await self._free_orphans(tenant_id, period, now):
                break
        return False

    async def _free_orphans(self, tenant_id: str, period: str, now: datetime) -> bool:
        slots = self._db(tenant_id, "broadcast_quota_slots")
        freed = False
        for slot in await slots.find({"period": period}).to_list():
            bid, run_id = str(slot["run"]).split("/")[1:]
            if (
                slot["at"] < now - ORPHAN_SLOT_AGE
                and await self.run(tenant_id, bid, run_id) is None
            ):
                await slots.delete_one({"_id": slot["_id"], "run": slot["run"]})
                freed = True
        return freed

    async def holds_slot(self, tenant_id: str, key: str) -> bool:
        slot = await self._db(tenant_id, "broadcast_quota_slots").find_one({"run": key})
        return slot is not None

    async def release_slot(self, tenant_id: str, key: str) -> None:
        await self._db(tenant_id, "broadcast_quota_slots").delete_many({"run": key})

    async def slots_from(self, tenant_id: str, period: str) -> list[Doc]:
        """The slots of ``period`` and later ones (period keys sort as dates)."""
        cursor = self._db(tenant_id, "broadcast_quota_slots").find({"period": {"$gte": period}})
        return await cursor.to_list()

    async def reader_counts(
        self, tenant_id: str, month: str, openids: Sequence[str], key: str
    ) -> dict[str, int]:
        """How many list sends other than run ``key`` each reader got in ``month``. Read
        as the month's whole ledger: a 10,000-openid ``$in`` is a slow filter on FerretDB."""
        wanted = set(openids)
        cursor = self._db(tenant_id, "broadcast_reader_sends").find(
            {"month": month, "run": {"$ne": key}}, {"openid": 1}
        )
        counts: dict[str, int] = {}
        async for doc in cursor:
            if doc["openid"] in wanted:
                counts[doc["openid"]] = counts.get(doc["openid"], 0) + 1
        return counts

    async def record_readers(
        self, tenant_id: str, month: str, openids: Sequence[str], key: str
    ) -> None:
        docs = [
            {"_id": f"{month}|{openid}|{key}", "month": month, "openid": openid, "run": key}
            for openid in openids
        ]
        if not docs:
            return
        try:
            await self._db(tenant_id, "broadcast_reader_sends").insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # written by an earlier attempt of the same run
            if not only_duplicates(exc):
                raise

    # -- what analytics said ----------------------------------------------------------------
    async def note(self, tenant_id: str, name: str, value: Doc) -> None:
        doc = {"_id": name, **value}
        await self._db(tenant_id, "scheduler_notes").replace_one({"_id": name}, doc, upsert=True)

    async def notes(self, tenant_id: str) -> dict[str, Doc]:
        docs = await self._db(tenant_id, "scheduler_notes").find({}).to_list()
        return {str(d["_id"]): d for d in docs}


def _run_doc(run: Run) -> Doc:
    doc = asdict(run)
    doc.pop("tenant_id")
    doc["batches"] = [{**b.to_doc(), "result": None} for b in run.batches]
    doc["over_limit"] = list(run.over_limit)
    doc.pop("retracted")  # appended by the API (add_retraction), never overwritten
    return doc


def _run_of(tenant_id: str, doc: Doc) -> Run:
    results = doc.get("results") or {}
    batches = (Batch.from_doc(b) for b in doc.get("batches", []))
    return Run(
        tenant_id=tenant_id,
        broadcast_id=str(doc["broadcast_id"]),
        run_id=str(doc["run_id"]),
        due_at=doc["due_at"],
        status=str(doc["status"]),
        claims=int(doc.get("claims", 0)),
        tries=int(doc.get("tries", 0)),
        batches=tuple(replace(b, result=results.get(f"b{b.index}")) for b in batches),
        reason=doc.get("reason"),
        started_at=doc.get("started_at"),
        submitted_at=doc.get("submitted_at"),
        announced=bool(doc.get("announced")),
        reported=bool(doc.get("reported")),
        over_limit=tuple(doc.get("over_limit", ())),
        retracted=list(doc.get("retracted", [])),
    )
