"""Deleting many documents on the real FerretDB: its SQLite backend refuses, whole, a
delete that matches more than 32,766 documents ("too many SQL variables"), and a purge of a
busy day's dedup ids matches far more. ``delete_all`` goes in batches then."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from shared.platform.storage import Client, delete_all, delete_in_batches, tenant_db_name

OVER_THE_LIMIT = 40_000  # documents: above the 32,766 one delete may match


Collection = AsyncCollection[dict[str, object]]


@pytest.fixture
async def scratch(mongo: Client) -> AsyncIterator[Collection]:
    """An empty collection in a database of its own, dropped afterwards."""
    name = tenant_db_name(f"delete-{secrets.token_hex(4)}")
    yield mongo[name].seen
    await mongo.drop_database(name)


@pytest.fixture
async def crowded(scratch: Collection) -> Collection:
    """OVER_THE_LIMIT old documents and one recent."""
    for first in range(0, OVER_THE_LIMIT, 10_000):
        await scratch.insert_many(
            [{"_id": f"e{n:06d}", "day": "2026-01-01"} for n in range(first, first + 10_000)]
        )
    await scratch.insert_one({"_id": "z-recent", "day": "2026-12-01"})
    return scratch


async def test_one_delete_over_the_limit_fails_whole_and_delete_all_goes_through(crowded) -> None:
    old = {"day": {"$lt": "2026-06-01"}}
    with pytest.raises(OperationFailure, match="too many SQL variables"):
        await crowded.delete_many(old)
    assert await crowded.count_documents({}) == OVER_THE_LIMIT + 1  # nothing went

    assert await delete_all(crowded, old) == OVER_THE_LIMIT

    assert [doc["_id"] async for doc in crowded.find({})] == ["z-recent"]


async def test_batches_take_the_lowest_ids_first_and_leave_the_rest(scratch) -> None:
    await scratch.insert_many([{"_id": f"e{n:04d}"} for n in range(1_000)])

    assert await delete_in_batches(scratch, {"_id": {"$lt": "e0250"}}, batch=100) == 250
    assert await scratch.find_one({}, sort=[("_id", 1)]) == {"_id": "e0250"}
    assert await scratch.count_documents({}) == 750


async def test_ids_of_several_types_all_go(scratch) -> None:
    """A bound on a string id matches only strings (type bracketing): numbers sorted before
    them in the same round still go."""
    await scratch.insert_many([{"_id": n} for n in range(5)] + [{"_id": f"s{n}"} for n in range(5)])

    assert await delete_in_batches(scratch, {}, batch=8) == 10
    assert await scratch.count_documents({}) == 0
