"""Tenants in ``wxp_control.tenants``: one document per account, its secrets sealed
with the master key in the layout ``shared.platform.tenant_records`` owns."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.gateway.tenants import NewTenant, TenantChanges
from services.gateway.verify import Credentials
from shared.platform.secretbox import SecretBox
from shared.platform.storage import CONTROL_DB, Client, DuplicateKeyError, tenant_db_name
from shared.platform.tenant_records import (
    SECRETS,
    open_aes_keys,
    open_secret,
    reseal_secrets,
    seal_secrets,
)

PUBLIC_FIELDS = (
    "id",
    "name",
    "appid",
    "account_type",
    "encrypt_mode",
    "timezone",
    "cluster",
    "created_at",
    "updated_at",
)


class Conflict(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    view = {name: doc.get(name) for name in PUBLIC_FIELDS if name != "id"}
    view["id"] = doc["_id"]
    for stamp in ("created_at", "updated_at"):
        value = view.get(stamp)
        if isinstance(value, datetime):
            view[stamp] = value.isoformat()
    if view.get("updated_at") is None:
        view.pop("updated_at", None)
    return view


class TenantRepository:
    def __init__(self, client: Client, box: SecretBox) -> None:
        self._client = client
        self._db = client[CONTROL_DB]
        self._box = box

    async def prepare(self) -> None:
        """Indexes and the master-key check; raises SecretError on a wrong key."""
        await self._db.tenants.create_index("appid", unique=True, name="appid_unique")
        meta = self._db.meta
        found = await meta.find_one({"_id": "master_key_check"})
        if found is None:
            try:
                await meta.insert_one({"_id": "master_key_check", "value": self._box.check_value()})
            except DuplicateKeyError:
                found = await meta.find_one({"_id": "master_key_check"})
        if found is not None:
            self._box.verify_check_value(found["value"])

    async def create(self, tenant: NewTenant, *, now: datetime) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": tenant.id,
            "name": tenant.name,
            "appid": tenant.appid,
            "account_type": tenant.account_type,
            "encrypt_mode": tenant.encrypt_mode,
            "timezone": tenant.timezone,
            "cluster": "default",
            "created_at": now,
            **seal_secrets(self._box, tenant.id, tenant.secrets),
        }
        try:
            await self._db.tenants.insert_one(doc)
        except DuplicateKeyError:
            if await self._db.tenants.find_one({"_id": tenant.id}, {"_id": 1}) is not None:
                raise Conflict("id", f"tenant {tenant.id} already exists") from None
            raise Conflict("appid", f"appid {tenant.appid} is already onboarded") from None
        return public_view(doc)

    async def list(self, *, limit: int, after: str | None) -> list[dict[str, Any]]:
        query = {"_id": {"$gt": after}} if after else {}
        cursor = self._db.tenants.find(query, {SECRETS: 0}).sort("_id", 1).limit(limit)
        return [public_view(doc) async for doc in cursor]

    async def get(self, tenant_id: str) -> dict[str, Any] | None:
        doc = await self._db.tenants.find_one({"_id": tenant_id}, {SECRETS: 0})
        return public_view(doc) if doc is not None else None

    async def update(
        self, tenant_id: str, changes: TenantChanges, *, now: datetime, aes_key_grace: timedelta
    ) -> dict[str, Any] | None:
        """Applies a PATCH; a replaced EncodingAESKey stays valid for ``aes_key_grace``."""
        doc = await self._db.tenants.find_one({"_id": tenant_id})
        if doc is None:
            return None
        doc.update(changes.fields)
        doc.update(
            reseal_secrets(self._box, doc, changes.secrets, previous_until=now + aes_key_grace)
        )
        doc["updated_at"] = now
        await self._db.tenants.replace_one({"_id": tenant_id}, doc)
        return public_view(doc)

    async def delete(self, tenant_id: str) -> bool:
        """Removes the tenant's document and drops its database; False if it was gone."""
        if (await self._db.tenants.delete_one({"_id": tenant_id})).deleted_count == 0:
            return False
        await self._client.drop_database(tenant_db_name(tenant_id))
        return True

    async def credentials(self, tenant_id: str, *, now: datetime) -> Credentials | None:
        doc = await self._db.tenants.find_one({"_id": tenant_id})
        if doc is None:
            return None
        return Credentials(
            token=open_secret(self._box, doc, "token"),
            appid=doc["appid"],
            encrypt_mode=doc["encrypt_mode"],
            aes_keys=open_aes_keys(self._box, doc, now=now),
        )
