"""Where analytics keeps what it counts, per tenant (``wxp_t_{id}``).

- ``analytics_events``: the raw log (types, keys, times; never a message's content), in
  *leaves*: one document per tenant, day and fold, ``{_id: "<inboxes>/<day>/<digest of
  the facts' ids>", day, n, facts}``, the facts as rows in one zlib-compressed JSON
  document (FerretDB's cost is per document, per field and per byte, and a thousand
  tenants' facts arrive a few at a time). Every figure is computed from this log (or from
  a day finalized from it), each envelope **once, by its id, as it is read**
  (:meth:`AnalyticsStore.facts`): a redelivery folded into a later leaf, or two replicas
  folding the same inboxes, changes no figure, and there are no counters to double. The
  same facts of the same fold make the same leaf id: a repeated fold is a duplicate key,
  nothing stored twice. Documents of one fact each (``_id`` the envelope id), as versions
  before the leaves wrote them, are read as well. Kept ``WXP_ANALYTICS_RAW_DAYS`` (35).
  A busy account gets a leaf nearly every fold (thousands a day), and every query reads
  them all on FerretDB: the refresh merges a day's leaves into as few as hold its facts
  once there are more than ``MERGE_LEAVES`` (``merge_leaves``, ``refresh.py``).
- ``analytics_days``: a day's figures, written once the day is older than the raw log
  keeps (``_id`` the date; the first writer wins, later ones find it there).
- ``analytics_readers``: each reader's latest follow event (subscribe or unsubscribe, when,
  and the channel), which outlives the raw log: followers known without a baseline.
- ``analytics_state``: the latest baseline, the send hour last published, and the
  broadcasts whose 24-hour impact is still to publish.

A delivery's fact first lands in the shared inbox of its two seconds
(``wxp_analytics.inbox_N``): the facts of concurrent deliveries, whatever their tenant,
share one document (``GroupAppend``; the facts as rows, compressed as in a leaf), which is what
lets one process take thousands of envelopes a second across a thousand tenants'
databases. Once no one writes to an inbox any more (10 s), the fold moves it to the
tenants, one insert per tenant (a leaf per day), and drops it.

Compressed, a fact row takes about 35 bytes instead of about 220 (the rows of a batch
repeat their day, kind and tenant): on FerretDB, which escapes and copies every byte of a
string on its way in and out, an inbox document of 120 facts cost 0.6 ms of its CPU to
insert and 0.25 ms to read, against 1.7 and 1.0 ms as a JSON string (the local FerretDB,
2026-12-03). Documents that earlier versions wrote with a JSON string are read as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.analytics.facts import (
    FOLLOW,
    REPLY,
    UNFOLLOW,
    Fact,
    Row,
    fact_of_row,
    latest_follows,
    to_row,
)
from shared.platform.group_commit import GroupAppend
from shared.platform.storage import (
    CONTROL_DB,
    DUPLICATE_KEY,
    Client,
    aware,
    delete_all,
    insert_new,
    tenant_db_name,
)
from shared.platform.supervision import paced

Doc = dict[str, Any]
ANALYTICS_DB = "wxp_analytics"  # the inboxes every tenant's facts pass through
INBOX = "inbox_"  # + the number of the INBOX_SECONDS slice the facts arrived in
INBOX_SECONDS = 2.0
INBOX_SETTLE = 10.0  # an inbox this much past its slice takes no more writes: folded
FOLD_WRITERS = 16  # tenants moved at once (FerretDB keeps each tenant's database apart)
FOLD_MAX_FACTS = 50_000  # inboxes waiting together move together, up to this many facts
# The tenants' moves of one fold start spread over this many seconds (a thousand tenants
# a millisecond apart, twenty 50 ms apart): at once, a fold of twenty tenants held
# FerretDB and analytics at a third of a core each for about 150 ms every 5 s, and the
# webhooks sharing the machine slowed by a fifth meanwhile (README, Benchmarks).
FOLD_SPREAD = 1.0
INBOX_BATCH = 500  # facts in one inbox document at most (below the prefetch of 1,024)
INBOX_LINGER = 0.05  # seconds a part-filled inbox document waits for more facts
INBOX_WRITERS = 4  # inbox inserts in flight at once: the next batch need not wait
LEAF_FACTS = 10_000  # facts in one leaf of the raw log at most (about 1.5 MB)
MERGED = "merged"  # the fold name of leaves merged from a day's (merge_leaves)
FOLLOWS_LOOKED_UP = 500  # readers' stored states read in one query (FerretDB: by _id index)
LOG_INDEX = [("day", ASCENDING), ("_id", ASCENDING)]  # the raw log's (ensure_indexes)
RETIRED_LOG_INDEX = "day_1"  # earlier versions': by day alone
INDEX_NOT_FOUND = 27  # the server's code for dropping an index that is not there


class AnalyticsStore:
    def __init__(
        self,
        client: Client,
        *,
        clock: Callable[[], float] = time.time,
        fold_spread: float = FOLD_SPREAD,
    ) -> None:
        self._client = client
        self._clock = clock
        self._fold_spread = fold_spread
        self._writers: dict[str, GroupAppend[tuple[str, Row]]] = {}
        self._tenants: AsyncCollection[Doc] = client[CONTROL_DB].tenants
        self._indexed: set[str] = set()

    def _db(self, tenant_id: str, name: str) -> AsyncCollection[Doc]:
        return self._client[tenant_db_name(tenant_id)][name]

    async def record(self, tenant_id: str, fact: Fact) -> None:
        """Takes the fact into the inbox of the current few seconds: the facts of every
        delivery in flight, whatever their tenant, share one document. A redelivery is
        kept again; the fold keeps each fact once."""
        name = f"{INBOX}{int(self._clock() // INBOX_SECONDS)}"
        writer = self._writers.get(name)
        if writer is None:
            inbox = self._client[ANALYTICS_DB][name]
            writer = GroupAppend(
                inbox, _pack, max_items=INBOX_BATCH, linger=INBOX_LINGER, writers=INBOX_WRITERS
            )
            self._writers = {name: writer}
        await writer.append((tenant_id, to_row(fact)))

    async def fold(self, *, settle: float = INBOX_SETTLE) -> Counter[str]:
        """Moves the inboxes no one writes to any more (older than ``settle`` seconds)
        into their tenants' raw logs and sets the readers' follow state, then drops each
        inbox whole. Inboxes that wait together (a fold fell behind) move together, up to
        ``FOLD_MAX_FACTS``: the more there is to move, the more facts each tenant's insert
        carries. Replicas may fold the same inboxes at once: the outcome is the same (the
        same leaves, a duplicate key for the second). Answers the facts of the leaves newly
        written, by kind."""
        analytics = self._client[ANALYTICS_DB]
        closed = int((self._clock() - settle) // INBOX_SECONDS)
        slices = sorted(
            int(n[len(INBOX) :])
            for n in await analytics.list_collection_names()
            if n.startswith(INBOX) and n[len(INBOX) :].isdigit()
        )
        settled = [n for n in slices if n < closed]
        kept: Counter[str] = Counter()
        while settled:
            group: list[int] = []
            rows: dict[tuple[str, str], Row] = {}  # (tenant, fact id): the fact, once
            while settled and (not group or len(rows) < FOLD_MAX_FACTS):
                group.append(settled.pop(0))
                async for doc in analytics[f"{INBOX}{group[-1]}"].find({}):
                    for tenant_id, row in _unpack(doc):
                        rows.setdefault((tenant_id, str(row[0])), row)
            kept += await self._move(rows, f"{group[0]}-{group[-1]}")
            for n in group:
                await analytics.drop_collection(f"{INBOX}{n}")
        return kept

    async def _move(self, rows: dict[tuple[str, str], Row], fold: str) -> Counter[str]:
        """Each live tenant's facts in one insert, ``FOLD_WRITERS`` tenants at a time, the
        moves started evenly over the fold's spread."""
        by_tenant: dict[str, list[Row]] = defaultdict(list)
        for (tenant_id, _), row in rows.items():
            by_tenant[tenant_id].append(row)
        known = await self._tenants.find({"_id": {"$in": list(by_tenant)}}, {"_id": 1}).to_list()
        live = {str(doc["_id"]) for doc in known}  # offboarded meanwhile: its facts go with it
        gate = asyncio.Semaphore(FOLD_WRITERS)
        kept: Counter[str] = Counter()

        async def move(tenant_id: str, batch: list[Row]) -> None:
            async with gate:
                kept.update(await self.keep(tenant_id, batch, fold=fold))

        batches = [(tenant, batch) for tenant, batch in by_tenant.items() if tenant in live]
        async with asyncio.TaskGroup() as moves:
            async for tenant_id, batch in paced(batches, over=self._fold_spread):
                moves.create_task(move(tenant_id, batch))
        return kept

    async def keep(self, tenant_id: str, rows: list[Row], *, fold: str) -> Counter[str]:
        """The facts into the tenant's raw log, as the leaves of ``fold`` (the inboxes
        moved); answers the facts of the leaves newly written, by kind. The same fold
        again writes the same leaves: duplicates, nothing kept twice."""
        await self.ensure_indexes(tenant_id)
        leaves = _leaves(rows, fold)
        events = self._db(tenant_id, "analytics_events")
        there = await insert_new(events, [leaf for leaf, _ in leaves])  # written already
        follows = latest_follows(fact_of_row(row) for row in rows if row[1] in (FOLLOW, UNFOLLOW))
        if follows:
            await self._follow(tenant_id, follows)
        return sum((kinds for n, (_, kinds) in enumerate(leaves) if n not in there), Counter())

    async def _follow(self, tenant_id: str, latest: dict[str, Fact]) -> None:
        """Each reader's follow state from ``latest`` (``latest_follows``: by openid, the
        reader's latest follow event of the fold; events may arrive out of order). Readers
        with no stored state yet (most, in a fold) are inserted at once; the others, and any
        a concurrent fold inserted meanwhile, go through one conditional ``update`` command,
        whose statement for a reader whose stored state is newer than the fact matches
        nothing and changes nothing."""
        readers = self._db(tenant_id, "analytics_readers")
        stored: dict[str, datetime] = {}
        ids = list(latest)
        for first in range(0, len(ids), FOLLOWS_LOOKED_UP):
            looked_up = {"_id": {"$in": ids[first : first + FOLLOWS_LOOKED_UP]}}
            async for doc in readers.find(looked_up, {"follow_at": 1}):
                stored[str(doc["_id"])] = aware(doc["follow_at"])
        fresh = [fact for openid, fact in latest.items() if openid not in stored]
        changed = [f for openid, f in latest.items() if openid in stored and stored[openid] <= f.at]
        if fresh:
            states = [{"_id": fact.openid, **_follow_state(fact)} for fact in fresh]
            raced = await insert_new(readers, states)
            changed += [fresh[n] for n in sorted(raced)]
        if changed:
            await self._follow_newer(tenant_id, changed)

    async def _follow_newer(self, tenant_id: str, facts: list[Fact]) -> None:
        """The follow state of readers stored already, where the fact is no older than
        what is stored, in one ``update`` command (a newer stored state makes a statement's
        upsert a duplicate key: that fact changes nothing).

        FerretDB stops an unordered ``update`` at its first refused statement (MongoDB
        goes on), so the statements after the first refusal are sent again: they are
        idempotent either way. pymongo's ``bulk_write`` is not used: it reads an
        ``nModified`` that FerretDB leaves out of an upsert's answer."""
        pending = [
            {
                "q": {"_id": fact.openid, "follow_at": {"$lte": fact.at}},
                "u": {"$set": _follow_state(fact)},
                "upsert": True,
            }
            for fact in facts
        ]
        database = self._client[tenant_db_name(tenant_id)]
        while pending:
            answer = await database.command(
                {"update": "analytics_readers", "updates": pending, "ordered": False}
            )
            errors = answer.get("writeErrors", [])
            for error in errors:
                if error.get("code") != DUPLICATE_KEY:
                    raise OperationFailure(str(error.get("errmsg")), error.get("code"))
            if not errors:
                return
            pending = pending[min(int(e["index"]) for e in errors) + 1 :]

    async def facts(
        self,
        tenant_id: str,
        *,
        first_day: str = "0000-01-01",
        last_day: str = "9999-12-31",
        kinds: Sequence[str] = (),
    ) -> list[Fact]:
        """The facts of the days from ``first_day`` to ``last_day`` (all the raw log keeps,
        by default), each envelope once (by its id) however often it was folded, in the
        order first read."""
        wanted = set(kinds)
        query: Doc = {"day": {"$gte": first_day, "$lte": last_day}}
        found: dict[str, Fact] = {}
        async for doc in self._db(tenant_id, "analytics_events").find(query):
            _add_facts(doc, found, wanted)
        return list(found.values())

    async def leaf_ids(
        self, tenant_id: str, first_day: str, last_day: str
    ) -> dict[str, frozenset[str]]:
        """The ids of the raw log's documents (leaves, and facts stored one a document)
        of each day from ``first_day`` to ``last_day`` that has any: a day's facts are
        the same as long as these are."""
        query: Doc = {"day": {"$gte": first_day, "$lte": last_day}}
        ids: dict[str, set[str]] = defaultdict(set)
        async for doc in self._db(tenant_id, "analytics_events").find(query, {"day": 1}):
            ids[str(doc["day"])].add(str(doc["_id"]))
        return {day: frozenset(found) for day, found in ids.items()}

    async def days_of_facts(
        self, tenant_id: str, days: Sequence[str]
    ) -> dict[str, tuple[frozenset[str], list[Fact]]]:
        """For each of ``days`` that has any: the ids of the documents read and the day's
        facts, each envelope once (by its id)."""
        read: dict[str, set[str]] = defaultdict(set)
        found: dict[str, dict[str, Fact]] = defaultdict(dict)
        async for doc in self._db(tenant_id, "analytics_events").find({"day": {"$in": list(days)}}):
            read[str(doc["day"])].add(str(doc["_id"]))
            _add_facts(doc, found[str(doc["day"])], set())
        return {day: (frozenset(ids), list(found[day].values())) for day, ids in read.items()}

    async def merge_leaves(self, tenant_id: str, days: Sequence[str]) -> tuple[int, int]:
        """The documents of ``days`` in the raw log (a leaf a fold: thousands a day for a
        busy account, each one read by every query on FerretDB) made into as few leaves a
        day as hold its facts, each envelope once, in one read; answers how many documents
        there were and how many leaves now hold their facts. The new leaves are written
        before the old documents go, so a crash between the two leaves facts twice, which
        are read once; a leaf folded meanwhile stays; replicas merging at once write the
        same leaves. A read running meanwhile misses nothing: it meets documents in the
        order they were written (FerretDB's rows; MongoDB's ``day`` index, then record
        ids), so an old leaf gone before it got there means the new one is still ahead."""
        events = self._db(tenant_id, "analytics_events")
        read: list[str] = []
        rows: dict[str, Row] = {}
        async for doc in events.find({"day": {"$in": list(days)}}):
            read.append(str(doc["_id"]))
            for row in _rows_of(doc):
                rows.setdefault(str(row[0]), row)
        leaves = [leaf for leaf, _ in _leaves(list(rows.values()), MERGED)]
        if leaves:
            await insert_new(events, leaves)
        written = {leaf["_id"] for leaf in leaves}
        gone = [doc_id for doc_id in read if doc_id not in written]
        if gone:
            await delete_all(events, {"_id": {"$in": gone}})
        return len(read), len(leaves)

    async def answered(self, tenant_id: str, first_day: str) -> set[str]:
        """Ids of the events a reply answered, replies from ``first_day`` on."""
        replies = await self.facts(tenant_id, first_day=first_day, kinds=(REPLY,))
        return {fact.answers for fact in replies if fact.answers}

    async def finalized(self, tenant_id: str, first_day: str, last_day: str) -> list[Doc]:
        cursor = self._db(tenant_id, "analytics_days").find(
            {"_id": {"$gte": first_day, "$lte": last_day}}
        )
        return await cursor.to_list()

    async def finalize(self, tenant_id: str, day: Doc) -> None:
        with contextlib.suppress(DuplicateKeyError):  # another replica's: the same figures
            await self._db(tenant_id, "analytics_days").insert_one(day)

    async def purge(self, tenant_id: str, before_day: str) -> int:
        events = self._db(tenant_id, "analytics_events")
        return await delete_all(events, {"day": {"$lt": before_day}})

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
        """The raw log by day, then id: MongoDB reads day ranges by it, and lists a range's
        leaf ids from the index alone (``leaf_ids``, every refresh: a covered query, no
        leaf read); FerretDB scans. The day-only index of earlier versions, a prefix of
        this one, is dropped."""
        if tenant_id not in self._indexed:
            events = self._db(tenant_id, "analytics_events")
            await events.create_index(LOG_INDEX)
            try:
                await events.drop_index(RETIRED_LOG_INDEX)
            except OperationFailure as exc:
                if exc.code != INDEX_NOT_FOUND:
                    raise
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

    # What a rebuild (rebuild.py) replaces of the state derived from the raw log.

    async def reader_channels(self, tenant_id: str, openids: Sequence[str]) -> dict[str, Any]:
        """The stored channel of each of ``openids`` that has a follow state."""
        if not openids:
            return {}
        cursor = self._db(tenant_id, "analytics_readers").find(
            {"_id": {"$in": list(openids)}}, {"channel": 1}
        )
        return {str(doc["_id"]): doc.get("channel") async for doc in cursor}

    async def replace_readers(self, tenant_id: str, docs: Sequence[Doc]) -> None:
        """Sets each reader's follow state (``_id`` the openid) to exactly its doc, whatever
        was stored, a later ``follow_at`` too."""
        readers = self._db(tenant_id, "analytics_readers")
        for doc in docs:
            try:
                await readers.replace_one({"_id": doc["_id"]}, doc, upsert=True)
            except DuplicateKeyError:  # a fold inserted the reader meanwhile: replace that
                await readers.replace_one({"_id": doc["_id"]}, doc)

    async def drop_days(self, tenant_id: str, first_day: str) -> int:
        """Deletes the finalized days from ``first_day`` on; answers how many there were."""
        result = await self._db(tenant_id, "analytics_days").delete_many(
            {"_id": {"$gte": first_day}}
        )
        return result.deleted_count


def _leaves(rows: list[Row], fold: str) -> list[tuple[Doc, Counter[str]]]:
    """A tenant's facts of one fold as leaves of the raw log: one per day (split past
    ``LEAF_FACTS``), sorted by id. A leaf's id names the fold, the day and a digest of
    its facts' ids, so the same facts always make the same leaf, whoever folds them,
    and other facts another (an inbox written to again after a fold dropped it). Each
    leaf comes with its facts' count by kind."""
    by_day: dict[str, list[Row]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: str(row[0])):
        by_day[str(row[4])].append(row)
    leaves = []
    for day, facts in sorted(by_day.items()):
        for first in range(0, len(facts), LEAF_FACTS):
            part = facts[first : first + LEAF_FACTS]
            ids = hashlib.blake2b("\n".join(str(row[0]) for row in part).encode(), digest_size=8)
            leaf = {
                "_id": f"{fold}/{day}/{ids.hexdigest()}",
                "day": day,
                "n": len(part),
                "facts": pack_rows(part),
            }
            leaves.append((leaf, Counter(str(row[1]) for row in part)))
    return leaves


def _add_facts(doc: Doc, found: dict[str, Fact], wanted: set[str]) -> None:
    """The facts of a raw-log document (a leaf, or one fact as versions before the leaves
    stored them) of the ``wanted`` kinds (every kind when empty) into ``found``, by id:
    an envelope folded again is kept once, as first read."""
    for row in _rows_of(doc):
        if (not wanted or row[1] in wanted) and row[0] not in found:
            found[str(row[0])] = fact_of_row(row)


def merged(leaf_id: str) -> bool:
    """Whether a raw-log document is a leaf :meth:`AnalyticsStore.merge_leaves` wrote."""
    return leaf_id.startswith(f"{MERGED}/")


def _rows_of(doc: Doc) -> list[Row]:
    """The facts of a raw-log document as rows, whichever way it was written."""
    if "facts" in doc:
        return unpack_rows(doc["facts"])
    return [to_row(Fact.from_doc(doc))]


def _follow_state(fact: Fact) -> Doc:
    """A reader's follow state from a follow fact (an unsubscribe keeps no channel: the
    one the reader came by stays)."""
    state: Doc = {"follow": fact.kind, "follow_at": fact.at}
    if fact.kind == FOLLOW:
        state["channel"] = fact.key
    return state


def pack_rows(rows: Sequence[Any]) -> bytes:
    """Rows as one field: compact JSON, compressed (zlib's fastest level: about 0.7 µs a
    row, and a sixth of the bytes)."""
    return zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 1)


def unpack_rows(packed: bytes | str) -> list[Any]:
    """What :func:`pack_rows` packed, or the plain JSON string earlier versions wrote."""
    if isinstance(packed, bytes):
        packed = zlib.decompress(packed).decode()
    rows = json.loads(packed)
    if not isinstance(rows, list):
        raise ValueError(f"packed facts are a {type(rows).__name__}, not a list")
    return rows


def _pack(entries: list[tuple[str, Row]]) -> Doc:
    """An inbox document: facts of any tenants as ``[tenant, row]`` pairs, packed in one
    field (one field to store, however many facts)."""
    return {"_id": uuid.uuid4().hex, "facts": pack_rows(entries)}


def _unpack(doc: Doc) -> list[tuple[str, Row]]:
    """The facts of an inbox document; one written by a version before ``_pack`` (one
    fact per document, ``{tenant, fact}``) is read too, so an upgrade loses none."""
    if "facts" in doc:
        return [(tenant_id, row) for tenant_id, row in unpack_rows(doc["facts"])]
    return [(str(doc["tenant"]), to_row(Fact.from_doc(doc["fact"])))]


def newest(docs: Iterable[Doc], field: str) -> datetime | None:
    values = [doc[field] for doc in docs if isinstance(doc.get(field), datetime)]
    return max(values) if values else None
