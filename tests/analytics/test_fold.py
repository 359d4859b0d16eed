"""The fold on the real database: inboxes into the tenants' raw logs, each reader's follow
state from the latest follow event whatever order the events came in, a redelivery that
landed in two inboxes counted once, a fold repeated writing nothing twice, and an
offboarded tenant's facts dropped.

The store's clock is far in the past (a random slice of it per test), so its inboxes are
its own; another process's fold may move them too, which changes no outcome (replicas
fold the same inboxes), so only the tenants' state is checked, not what a fold moved."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.analytics.facts import FOLLOW, OTHER, UNFOLLOW, Fact, Row, to_row
from services.analytics.store import (
    ANALYTICS_DB,
    INBOX,
    INBOX_SECONDS,
    AnalyticsStore,
    unpack_rows,
)
from shared.platform.storage import CONTROL_DB, Client, tenant_db_name
from tests.conftest import tenant_record

AT = datetime(2026, 12, 10, 4, 0, tzinfo=UTC)


@dataclass
class Seconds:
    now: float

    def __call__(self) -> float:
        return self.now


def past() -> Seconds:
    return Seconds(1_000_000.0 + secrets.randbelow(1_000_000) * 100.0)


def with_inbox(mongo: Client) -> tuple[AnalyticsStore, AsyncCollection[dict[str, Any]]]:
    """A store on a clock of its own, and the inbox it writes to now."""
    clock = past()
    store = AnalyticsStore(mongo, clock=clock)
    return store, mongo[ANALYTICS_DB][f"{INBOX}{int(clock.now // INBOX_SECONDS)}"]


def fact(n: int, kind: str, openid: str, at: datetime, key: str | None = None) -> Fact:
    return Fact(f"e{n}", kind, f"event.{kind}", at, "2026-12-10", 12, 3, openid, key=key)


@pytest.fixture
async def tenants(mongo: Client) -> AsyncIterator[list[str]]:
    ids = [f"anf-{secrets.token_hex(5)}" for _ in range(3)]
    await mongo[CONTROL_DB].tenants.insert_many([tenant_record(t, "Fold") for t in ids])
    yield ids
    await mongo[CONTROL_DB].tenants.delete_many({"_id": {"$in": ids}})
    for tenant_id in ids:
        await mongo.drop_database(tenant_db_name(tenant_id))


async def readers(mongo: Client, tenant_id: str) -> dict[str, tuple[str, datetime, str | None]]:
    docs = await mongo[tenant_db_name(tenant_id)].analytics_readers.find({}).to_list()
    return {
        d["_id"]: (d["follow"], d["follow_at"].replace(tzinfo=UTC), d.get("channel")) for d in docs
    }


async def test_the_latest_follow_event_wins_within_a_fold_and_across_folds(
    mongo: Client, tenants: list[str]
) -> None:
    clock = past()
    store = AnalyticsStore(mongo, clock=clock)
    one, two, _ = tenants
    later = AT + timedelta(minutes=5)
    # First fold: a's unsubscribe came before (in delivery) the subscribe that preceded
    # it; b followed twice by different channels, the later one delivered first.
    for n, (kind, openid, at, key) in enumerate(
        [
            (UNFOLLOW, "o_a", later, None),
            (FOLLOW, "o_a", AT, "shop"),
            (FOLLOW, "o_b", later, "poster"),
            (FOLLOW, "o_b", AT, "shop"),
            (FOLLOW, "o_c", AT, None),
        ]
    ):
        await store.record(one, fact(n, kind, openid, at, key))
    await store.record(two, fact(9, FOLLOW, "o_a", AT, "elsewhere"))
    await store.fold(settle=-60.0)
    assert await readers(mongo, one) == {
        "o_a": (UNFOLLOW, later, None),
        "o_b": (FOLLOW, later, "poster"),
        "o_c": (FOLLOW, AT, None),
    }
    assert await readers(mongo, two) == {"o_a": (FOLLOW, AT, "elsewhere")}
    # A later fold: an older subscribe of a (delivered late) changes nothing; c left.
    clock.now += 10 * INBOX_SECONDS
    await store.record(one, fact(20, FOLLOW, "o_a", AT - timedelta(days=1), "old"))
    await store.record(one, fact(21, UNFOLLOW, "o_c", later, None))
    await store.fold(settle=-60.0)
    assert await readers(mongo, one) == {
        "o_a": (UNFOLLOW, later, None),
        "o_b": (FOLLOW, later, "poster"),
        "o_c": (UNFOLLOW, later, None),
    }


async def ids(store: AnalyticsStore, tenant_id: str) -> list[str]:
    """The ids of the facts the raw log answers with (each once)."""
    facts = await store.facts(tenant_id)
    return sorted(fact.id for fact in facts)


async def test_a_fact_in_two_inboxes_counts_once_and_a_gone_tenant_keeps_nothing(
    mongo: Client, tenants: list[str]
) -> None:
    clock = past()
    store = AnalyticsStore(mongo, clock=clock)
    one, _, gone = tenants
    await store.record(one, fact(1, "interaction", "o_a", AT))
    await store.record(gone, fact(1, "interaction", "o_a", AT))
    clock.now += 3 * INBOX_SECONDS  # the redelivery lands in a later inbox
    await store.record(one, fact(1, "interaction", "o_a", AT))
    await store.record(one, fact(2, FOLLOW, "o_b", AT, "shop"))
    await mongo[CONTROL_DB].tenants.delete_one({"_id": gone})
    await store.fold(settle=-60.0)
    assert await ids(store, one) == ["e1", "e2"]
    assert await mongo[tenant_db_name(gone)].analytics_events.count_documents({}) == 0
    assert await readers(mongo, one) == {"o_b": (FOLLOW, AT, "shop")}


async def test_a_redelivery_folded_later_counts_once_and_a_fold_repeated_writes_nothing(
    mongo: Client, tenants: list[str]
) -> None:
    clock = past()
    store = AnalyticsStore(mongo, clock=clock)
    one = tenants[0]
    e1, e2 = fact(1, "interaction", "o_a", AT), fact(2, FOLLOW, "o_b", AT, "shop")
    await store.record(one, e1)
    await store.record(one, e2)
    await store.fold(settle=-60.0)
    clock.now += 20 * INBOX_SECONDS  # folded already: the redelivery is another fold's
    await store.record(one, e1)
    await store.record(one, fact(3, "interaction", "o_a", AT)._replace(day="2026-12-11"))
    await store.fold(settle=-60.0)
    assert await ids(store, one) == ["e1", "e2", "e3"]
    day = await store.facts(one, first_day="2026-12-10", last_day="2026-12-10")
    assert sorted(f.id for f in day) == ["e1", "e2"]  # e3 is on the 11th (its day says so)

    rows = [to_row(e1), to_row(e2)]
    assert await store.keep(one, rows, fold="7-8") == {"interaction": 1, FOLLOW: 1}
    assert await store.keep(one, list(reversed(rows)), fold="7-8") == {}  # the same leaf
    events = mongo[tenant_db_name(one)].analytics_events
    leaves = await events.find({"_id": {"$regex": "^7-8/"}}).to_list()
    assert [(leaf["_id"][:15], leaf["day"], leaf["n"]) for leaf in leaves] == [
        ("7-8/2026-12-10/", "2026-12-10", 2)
    ]
    assert isinstance(leaves[0]["facts"], bytes)  # compressed (store.py)
    assert unpack_rows(leaves[0]["facts"]) == rows  # sorted by id, whatever the order given
    # The same inboxes written to again after their fold (a late writer): another leaf.
    late = [to_row(fact(4, "interaction", "o_c", AT))]
    assert await store.keep(one, late, fold="7-8") == {"interaction": 1}
    assert await ids(store, one) == ["e1", "e2", "e3", "e4"]


async def test_the_raw_log_is_indexed_by_day_then_id_and_the_day_only_index_goes(
    mongo: Client, tenants: list[str]
) -> None:
    """By day, then id: on MongoDB, listing a range's leaf ids reads only the index."""
    one, two, _ = tenants
    older = mongo[tenant_db_name(one)].analytics_events  # as a version before kept it
    await older.create_index([("day", ASCENDING)])
    store = AnalyticsStore(mongo, clock=past())
    rows = [to_row(fact(1, "interaction", "o_a", AT))]
    for tenant_id in (one, two):
        await store.keep(tenant_id, rows, fold="1-2")
        await store.keep(tenant_id, rows, fold="1-2")  # known: nothing asked again
        indexes = await mongo[tenant_db_name(tenant_id)].analytics_events.index_information()
        assert {name: info["key"] for name, info in indexes.items()} == {
            "_id_": [("_id", 1)],
            "day_1__id_1": [("day", 1), ("_id", 1)],
        }
    assert await store.leaf_ids(one, "2026-12-10", "2026-12-10") == {
        "2026-12-10": frozenset(await older.distinct("_id"))
    }
    await older.create_index([("day", ASCENDING)])  # should another writer make it again
    await AnalyticsStore(mongo, clock=past()).ensure_indexes(one)  # another process
    assert "day_1" not in await older.index_information()


async def test_an_inbox_written_one_fact_a_document_before_an_upgrade_is_folded_too(
    mongo: Client, tenants: list[str]
) -> None:
    store, inbox = with_inbox(mongo)
    one = tenants[0]
    old = fact(1, FOLLOW, "o_a", AT, "shop")
    await inbox.insert_one({"_id": f"{one}/e1", "tenant": one, "fact": old.to_doc()})
    await store.record(one, fact(2, "interaction", "o_a", AT))  # the new kind, same inbox
    await store.fold(settle=-60.0)
    assert await ids(store, one) == ["e1", "e2"]
    assert await readers(mongo, one) == {"o_a": (FOLLOW, AT, "shop")}
    # A raw log written one fact a document (before leaves) is read with the leaves.
    events = mongo[tenant_db_name(one)].analytics_events
    await events.insert_many(
        [fact(2, "interaction", "o_a", AT).to_doc(), fact(5, OTHER, "o_a", AT).to_doc()]
    )
    assert await ids(store, one) == ["e1", "e2", "e5"]


async def test_inboxes_and_leaves_written_with_a_json_string_before_an_upgrade_are_read(
    mongo: Client, tenants: list[str]
) -> None:
    store, inbox = with_inbox(mongo)
    one = tenants[0]
    pairs = [[one, to_row(fact(1, "interaction", "o_a", AT))]]
    await inbox.insert_one({"_id": f"old-{secrets.token_hex(4)}", "facts": json.dumps(pairs)})
    await store.record(one, fact(2, "interaction", "o_b", AT))  # compressed, same inbox
    written = await inbox.find({"facts": {"$type": "binData"}}).to_list()
    assert [unpack_rows(doc["facts"]) for doc in written] == [
        [[one, to_row(fact(2, "interaction", "o_b", AT))]]
    ]
    await store.fold(settle=-60.0)
    events = mongo[tenant_db_name(one)].analytics_events
    old_leaf = {"_id": "0-0/2026-12-10/old", "day": "2026-12-10", "n": 1}
    await events.insert_one({**old_leaf, "facts": json.dumps([to_row(fact(3, OTHER, "o_c", AT))])})
    assert await ids(store, one) == ["e1", "e2", "e3"]


async def test_a_days_leaves_merge_into_one_each_envelope_once_and_a_merge_again_changes_nothing(
    mongo: Client, tenants: list[str]
) -> None:
    store, one = AnalyticsStore(mongo), tenants[0]
    events = mongo[tenant_db_name(one)].analytics_events
    for n in range(1, 6):  # a leaf a fold; e3 delivered again into the fourth and fifth
        rows = [to_row(fact(n, "interaction", f"o_{n}", AT))]
        if n > 3:
            rows.append(to_row(fact(3, "interaction", "o_3", AT)))
        await store.keep(one, rows, fold=f"{n}-{n}")
    await events.insert_one(fact(6, OTHER, "o_6", AT).to_doc())  # one a document, as before
    other_day = fact(7, "interaction", "o_7", AT)._replace(day="2026-12-11")
    await store.keep(one, [to_row(other_day)], fold="5-5")
    before = await store.facts(one)

    assert await store.merge_leaves(one, ["2026-12-10"]) == (6, 1)
    assert sorted(f.id for f in await store.facts(one)) == sorted(f.id for f in before)
    assert sorted(await store.facts(one), key=lambda f: f.id) == sorted(before, key=lambda f: f.id)
    day = await events.find({"day": "2026-12-10"}).to_list()
    assert [(doc["_id"][:18], doc["n"]) for doc in day] == [("merged/2026-12-10/", 6)]
    assert await events.count_documents({"day": "2026-12-11"}) == 1  # another day's: as it was

    # Merged again (a second replica, or nothing new since): the same leaf, nothing gone.
    assert await store.merge_leaves(one, ["2026-12-10"]) == (1, 1)
    assert [doc["_id"] for doc in await events.find({"day": "2026-12-10"}).to_list()] == [
        day[0]["_id"]
    ]
    # A fold after the merge adds a leaf; the next merge takes it in.
    await store.keep(one, [to_row(fact(8, "interaction", "o_8", AT))], fold="9-9")
    assert await store.merge_leaves(one, ["2026-12-10"]) == (2, 1)
    assert await ids(store, one) == ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"]


async def test_replicas_merging_a_day_at_once_keep_each_fact_once(
    mongo: Client, tenants: list[str]
) -> None:
    store, one = AnalyticsStore(mongo), tenants[0]
    for n in range(1, 41):
        await store.keep(one, [to_row(fact(n, "interaction", f"o_{n}", AT))], fold=f"{n}-{n}")
    merges = [AnalyticsStore(mongo).merge_leaves(one, ["2026-12-10"]) for _ in range(3)]
    await asyncio.gather(*merges)
    assert await ids(store, one) == sorted(f"e{n}" for n in range(1, 41))
    events = mongo[tenant_db_name(one)].analytics_events
    assert await events.count_documents({}) == 1


async def test_a_folds_moves_start_spread_over_its_spread(
    mongo: Client, tenants: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = past()
    store = AnalyticsStore(mongo, clock=clock, fold_spread=0.6)
    for n, tenant_id in enumerate(tenants):
        await store.record(tenant_id, fact(n, "interaction", "o_a", AT))
    started: list[float] = []
    keep = store.keep

    async def timed(tenant_id: str, rows: list[Row], *, fold: str) -> Counter[str]:
        started.append(time.monotonic())
        return await keep(tenant_id, rows, fold=fold)

    monkeypatch.setattr(store, "keep", timed)
    await store.fold(settle=-60.0)
    assert len(started) == 3  # each tenant's facts, a move each
    gaps = [later - earlier for earlier, later in itertools.pairwise(started)]
    assert min(gaps) >= 0.15  # 0.6 s over three moves: 0.2 s apart
    for tenant_id in tenants:
        assert len(await store.facts(tenant_id)) == 1
