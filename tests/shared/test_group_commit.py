"""Group commit on the real FerretDB: unique inserts sharing round trips with their own
outcomes, and items appended many to a document."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from shared.platform.group_commit import GroupAppend, GroupInsert
from shared.platform.storage import CONTROL_DB, Client

Collection = AsyncCollection[dict[str, Any]]


@pytest.fixture
async def collection(mongo: Client) -> AsyncIterator[Collection]:
    own = mongo[CONTROL_DB][f"test_group_{secrets.token_hex(4)}"]
    yield own
    await own.drop()


class Counting:
    """The collection, counting the commands that reach it."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.batches: list[int] = []

    async def insert_many(self, docs: list[dict[str, Any]], *, ordered: bool) -> Any:
        self.batches.append(len(docs))
        return await self.collection.insert_many(docs, ordered=ordered)


async def test_concurrent_inserts_share_round_trips_and_each_gets_its_own_outcome(
    collection: Collection,
) -> None:
    await collection.insert_one({"_id": "old"})
    counting = Counting(collection)
    inserts = GroupInsert(counting, max_batch=100)  # type: ignore[arg-type]
    ids = [f"e{n}" for n in range(150)] + ["old", "e7", "e7"]  # a retry racing its original

    outcomes = await asyncio.gather(*(inserts.insert({"_id": i}) for i in ids))

    assert dict(zip(ids[:150], outcomes[:150], strict=True)) == dict.fromkeys(ids[:150], True)
    assert outcomes[150] is False  # there before
    assert outcomes[151:] == [False, False]  # e7's original won in its batch
    assert await collection.count_documents({}) == 151
    assert len(counting.batches) < 10  # shared: not one command per insert
    assert max(counting.batches) <= 100


async def test_a_caller_that_stops_waiting_leaves_the_others_answered(
    collection: Collection,
) -> None:
    inserts = GroupInsert(collection)
    impatient = asyncio.ensure_future(inserts.insert({"_id": "a"}))
    patient = asyncio.ensure_future(inserts.insert({"_id": "b"}))
    await asyncio.sleep(0)  # both wait in the same batch now
    impatient.cancel()  # a webhook's bound gave up on its dedup

    assert await patient is True
    assert impatient.cancelled()
    assert await inserts.insert({"_id": "a"}) is False  # its insert went all the same


def pack(items: list[int]) -> dict[str, Any]:
    return {"_id": secrets.token_hex(8), "items": items}


async def test_concurrent_appends_share_documents_and_all_are_stored(
    collection: Collection,
) -> None:
    appends = GroupAppend(collection, pack, max_items=40)

    await asyncio.gather(*(appends.append(n) for n in range(100)))

    docs = await collection.find({}).to_list()
    assert sorted(n for doc in docs for n in doc["items"]) == list(range(100))
    assert len(docs) < 10  # shared: not one document per item
    assert max(len(doc["items"]) for doc in docs) <= 40


async def test_every_caller_of_a_batch_the_database_refused_hears_it(
    collection: Collection,
) -> None:
    await collection.insert_one({"_id": "taken"})
    appends = GroupAppend(collection, lambda items: {"_id": "taken", "items": items})

    outcomes = await asyncio.gather(*(appends.append(n) for n in range(3)), return_exceptions=True)

    assert all(isinstance(outcome, PyMongoError) for outcome in outcomes), outcomes
    assert await collection.count_documents({}) == 1  # nothing half-stored


async def test_a_lingering_batch_waits_for_company_unless_it_fills_first(
    collection: Collection,
) -> None:
    appends = GroupAppend(collection, pack, max_items=50, linger=0.3)

    async def later(n: int) -> None:
        await asyncio.sleep(n * 0.01)  # one at a time: no two would share a round trip
        await appends.append(n)

    await asyncio.gather(*(later(n) for n in range(5)))
    assert [doc["items"] for doc in await collection.find({}).to_list()] == [[0, 1, 2, 3, 4]]

    await collection.delete_many({})
    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(appends.append(n) for n in range(50)))  # full: goes at once
    assert asyncio.get_running_loop().time() - started < 0.3
    assert [len(doc["items"]) for doc in await collection.find({}).to_list()] == [50]


class Overlapping:
    """The collection, each insert held a moment, counting how many are in flight."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.in_flight = 0
        self.most = 0

    async def insert_one(self, doc: dict[str, Any]) -> Any:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await self.collection.insert_one(doc)
        finally:
            self.in_flight -= 1


@pytest.mark.parametrize("writers", [1, 3])
async def test_a_full_batch_goes_while_earlier_ones_are_in_flight_up_to_writers(
    collection: Collection, writers: int
) -> None:
    overlapping = Overlapping(collection)
    appends = GroupAppend(overlapping, pack, max_items=10, writers=writers)  # type: ignore[arg-type]

    await asyncio.gather(*(appends.append(n) for n in range(100)))

    docs = await collection.find({}).to_list()
    assert sorted(n for doc in docs for n in doc["items"]) == list(range(100))
    assert overlapping.most == writers  # ten full batches: the slots were all used, no more


class Failing:
    """The collection, failing every insert with something that is not a database error."""

    async def insert_one(self, doc: dict[str, Any]) -> Any:
        raise asyncio.CancelledError


async def test_callers_of_a_batch_whose_insert_is_cancelled_do_not_wait_forever() -> None:
    appends = GroupAppend(Failing(), pack, max_items=10, writers=2)  # type: ignore[arg-type]

    outcomes = await asyncio.wait_for(
        asyncio.gather(*(appends.append(n) for n in range(5)), return_exceptions=True), 5
    )

    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes), outcomes
