"""MongoDB plumbing: the client, database names, and the errors that mean 'down'."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from shared.contracts.tenancy import CONTROL_DB, tenant_db_name

# Errors that mean the database is unreachable right now (retry later), as opposed
# to a write it refused (a duplicate key, a validation error).
UNAVAILABLE = (ConnectionFailure,)
DUPLICATE_KEY = 11000  # the server's code for a unique-key violation


def aware(value: datetime) -> datetime:
    """Stored times are UTC; a client built without ``tz_aware`` reads them naive."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def only_duplicates(error: BulkWriteError) -> bool:
    """True when every write a bulk write (``insert_many``, ``bulk_write``) refused was
    refused as a duplicate key."""
    return all(e.get("code") == DUPLICATE_KEY for e in error.details.get("writeErrors", []))


__all__ = [
    "CONTROL_DB",
    "DUPLICATE_KEY",
    "UNAVAILABLE",
    "DuplicateKeyError",
    "PyMongoError",
    "aware",
    "delete_all",
    "delete_in_batches",
    "insert_new",
    "mongo_client",
    "only_duplicates",
    "ping",
    "tenant_db_name",
]

Client = AsyncMongoClient[dict[str, Any]]


def mongo_client(url: str, *, app_name: str, timeout_ms: int = 3000) -> Client:
    """The one client a process builds (in its composition root)."""
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 2, 5000),
        retryWrites=False,  # FerretDB has no retryable writes; we retry ourselves
    )


DELETE_BATCH = 20_000  # documents a delete_in_batches round takes


async def ping(client: Client, seconds: float = 1.0) -> bool:
    """True when the database answers within ``seconds`` (a readiness probe must be quick)."""
    try:
        await asyncio.wait_for(client.admin.command("ping"), seconds)
    except (PyMongoError, TimeoutError):
        return False
    return True


async def delete_in_batches(
    collection: AsyncCollection[dict[str, Any]], query: dict[str, Any], *, batch: int = DELETE_BATCH
) -> int:
    """Deletes what ``query`` finds, ``batch`` documents at a time, so that no single delete
    holds the database long, and none matches more documents than FerretDB's SQLite backend
    takes in one (32,766: a ``delete_many`` over more fails whole, "too many SQL
    variables"); answers how many went. Each round deletes the matches with the lowest
    ids: the query itself, bounded by the highest of their ids (FerretDB deletes by a
    filter about four times faster than by a list of ids)."""
    deleted = 0
    while True:
        ids = [
            doc["_id"]
            async for doc in collection.find(query, {"_id": 1}).sort("_id", 1).limit(batch)
        ]
        if ids:
            bounded = {"$and": [query, {"_id": {"$lte": ids[-1]}}]}
            went = (await collection.delete_many(bounded)).deleted_count
            if went < len(ids):  # ids of another BSON type than the last one's: by the list
                went += (await collection.delete_many({"_id": {"$in": ids}})).deleted_count
            deleted += went
        if len(ids) < batch:
            return deleted


async def delete_all(collection: AsyncCollection[dict[str, Any]], query: dict[str, Any]) -> int:
    """``delete_many``, in batches when it matches more than one delete may take (above);
    answers how many went."""
    try:
        return (await collection.delete_many(query)).deleted_count
    except OperationFailure as exc:
        if "too many SQL variables" not in str(exc):
            raise
    return await delete_in_batches(collection, query)


async def insert_new(
    collection: AsyncCollection[dict[str, Any]], docs: list[dict[str, Any]]
) -> set[int]:
    """Inserts ``docs`` unordered; answers the indexes of those whose ``_id`` was there
    already (each a duplicate key, nothing changed). Any other refusal raises."""
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        if not only_duplicates(exc):
            raise
        return {int(error["index"]) for error in exc.details.get("writeErrors", [])}
    return set()
