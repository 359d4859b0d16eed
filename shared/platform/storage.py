"""MongoDB plumbing: the client, database names, and the errors that mean 'down'."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError

from shared.contracts.tenancy import CONTROL_DB, tenant_db_name

# Errors that mean the database is unreachable right now (retry later), as opposed
# to a write it refused (a duplicate key, a validation error).
UNAVAILABLE = (ConnectionFailure,)
DUPLICATE_KEY = 11000  # the server's code for a unique-key violation


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
    "delete_in_batches",
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


async def ping(client: Client, seconds: float = 1.0) -> bool:
    """True when the database answers within ``seconds`` (a readiness probe must be quick)."""
    try:
        await asyncio.wait_for(client.admin.command("ping"), seconds)
    except (PyMongoError, TimeoutError):
        return False
    return True


async def delete_in_batches(
    collection: AsyncCollection[dict[str, Any]], query: dict[str, Any], *, batch: int
) -> int:
    """Deletes what ``query`` finds, ``batch`` documents at a time (by ``_id``), so that no
    single delete holds the database long; answers how many went."""
    deleted = 0
    while True:
        ids = [doc["_id"] async for doc in collection.find(query, {"_id": 1}).limit(batch)]
        if ids:
            deleted += (await collection.delete_many({"_id": {"$in": ids}})).deleted_count
        if len(ids) < batch:
            return deleted
