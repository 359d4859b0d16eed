"""Lookups by ``_id`` on the real database: the same answers whatever narrows them, and, on
the FerretDB that ``deploy/local`` builds, through the ``_id`` index.

FerretDB v1.24.2's SQLite backend wrote its ``_id`` lookups as an expression its own
``_id`` index does not match, so each was a full scan (a ``find_one`` of a missing id took
22 ms among 10,000 documents), and it narrowed only a filter that was exactly
``{_id: value}``. ``deploy/local/ferretdb/patches/sqlite-id-index.patch`` mends both; the
narrowing is a first cut only, and these tests hold the full filter to its answers.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from shared.platform.storage import Client, tenant_db_name

Collection = AsyncCollection[dict[str, Any]]
OID = ObjectId()


@pytest.fixture
async def readers(mongo: Client) -> AsyncIterator[Collection]:
    """Five readers with string ids, one with an ObjectId, one with a number."""
    name = tenant_db_name(f"ids-{secrets.token_hex(4)}")
    collection = mongo[name].readers
    await collection.insert_many(
        [{"_id": f"o{n}", "n": n, "follow": n % 2 == 0} for n in range(5)]
        + [{"_id": OID, "n": 10, "follow": True}, {"_id": 7, "n": 7, "follow": True}]
    )
    yield collection
    await mongo.drop_database(name)


async def ferretdb(collection: Collection) -> bool:
    info = await collection.database.client.admin.command("buildInfo")
    return "ferretdbVersion" in info


async def found(collection: Collection, query: dict[str, Any]) -> list[Any]:
    return sorted([str(doc["_id"]) async for doc in collection.find(query)])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"_id": "o1"}, ["o1"]),
        ({"_id": "o1", "n": 1}, ["o1"]),
        ({"_id": "o1", "n": 2}, []),  # the id narrows; the rest still filters
        ({"_id": "missing"}, []),
        ({"_id": OID, "follow": True}, [str(OID)]),
        ({"_id": {"$in": ["o1", "o2", "missing"]}}, ["o1", "o2"]),
        ({"_id": {"$in": ["o1", "o2"]}, "follow": True}, ["o2"]),
        ({"_id": {"$in": ["o1", 7]}}, ["7", "o1"]),  # a number among them: not narrowed
        ({"_id": {"$in": ["o1"], "$ne": "o1"}}, []),  # more than $in: not narrowed
        ({"_id": {"$in": []}}, []),
        ({"_id": {"$gte": "o3"}}, ["o3", "o4"]),
        ({"$or": [{"_id": "o1"}, {"_id": "o3"}]}, ["o1", "o3"]),
    ],
)
async def test_lookups_by_id_answer_what_the_whole_filter_says(
    readers: Collection, query: dict[str, Any], expected: list[str]
) -> None:
    assert await found(readers, query) == expected
    assert await readers.count_documents(query) == len(expected)


async def test_updates_and_deletes_by_id_with_a_condition_touch_only_what_matches(
    readers: Collection,
) -> None:
    unchanged = await readers.update_one({"_id": "o1", "n": {"$gt": 5}}, {"$set": {"n": 99}})
    changed = await readers.update_one({"_id": "o1", "n": {"$lte": 5}}, {"$set": {"n": 50}})
    assert (unchanged.matched_count, changed.modified_count) == (0, 1)

    many = await readers.update_many(
        {"_id": {"$in": ["o2", "o3", "o4"]}, "follow": True}, {"$set": {"n": -1}}
    )
    assert many.modified_count == 2  # o2 and o4 follow; o3 does not

    gone = await readers.delete_many({"_id": {"$in": ["o0", "o3"]}, "follow": False})
    assert gone.deleted_count == 1  # o3

    assert {str(doc["_id"]): doc["n"] async for doc in readers.find({})} == {
        "o0": 0,
        "o1": 50,
        "o2": -1,
        "o4": -1,
        str(OID): 10,
        "7": 7,
    }


async def test_ferretdb_finds_by_id_through_its_index(readers: Collection) -> None:
    if not await ferretdb(readers):
        pytest.skip("MongoDB's plans are its own; the answers above hold for both")

    async def plan(query: dict[str, Any]) -> str:
        answer = await readers.database.command(
            {"explain": {"find": readers.name, "filter": query}}
        )
        return " ".join(answer["queryPlanner"]["Plan"])

    for indexed in (
        {"_id": "o1"},
        {"_id": "o1", "n": 1},
        {"_id": OID},
        {"_id": {"$in": ["o1", "o2"]}},
        {"_id": {"$in": ["o1", "o2"]}, "follow": True},
    ):
        assert "USING INDEX" in await plan(indexed), indexed
    for scanned in ({"n": 1}, {"_id": {"$in": ["o1", 7]}}):
        assert "SCAN" in await plan(scanned), scanned
