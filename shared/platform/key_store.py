"""API keys as stored in ``wxp_control.api_keys`` (only digests, never a key itself),
and their public view. The one module that writes the collection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.platform.keys import Scope, new_key
from shared.platform.storage import CONTROL_DB, Client


class KeyStore:
    def __init__(self, client: Client) -> None:
        self._keys = client[CONTROL_DB].api_keys

    async def create(
        self, *, scope: Scope, name: str, tenant_id: str | None, now: datetime
    ) -> tuple[dict[str, Any], str]:
        """The stored document and the key's plaintext (shown once, never stored)."""
        key = new_key()
        doc = {
            "_id": key.key_id,
            "digest": key.digest,
            "scope": scope,
            "tenant_id": tenant_id,
            "name": name,
            "created_at": now,
        }
        await self._keys.insert_one(doc)
        return doc, key.plaintext

    async def get(self, key_id: str) -> dict[str, Any] | None:
        return await self._keys.find_one({"_id": key_id})

    async def list(
        self, *, tenant_id: str | None = None, scope: Scope | None = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if tenant_id is not None:
            query["tenant_id"] = tenant_id
        if scope is not None:
            query["scope"] = scope
        return [doc async for doc in self._keys.find(query).sort("created_at", 1)]

    async def revoke(self, key_id: str) -> bool:
        return (await self._keys.delete_one({"_id": key_id})).deleted_count == 1


def public_key(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored key as the API shows it: no digest."""
    created = doc.get("created_at")
    return {
        "id": doc["_id"],
        "scope": doc["scope"],
        "tenant_id": doc.get("tenant_id"),
        "name": doc.get("name", ""),
        "created_at": created.isoformat() if isinstance(created, datetime) else created,
    }
