"""Tenants in ``wxp_control.tenants``: one document per account, its secrets sealed
with the master key (see ``events.py`` for the gateway's records of events)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.gateway.tenants import NewTenant, TenantChanges
from services.gateway.verify import Credentials
from shared.secretbox import SecretBox
from shared.storage import CONTROL_DB, Client, DuplicateKeyError, tenant_db_name
from shared.tenant_secrets import secret_context

SECRET_FIELDS = ("token", "encoding_aes_key", "app_secret")
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

    def _context(self, tenant_id: str, field: str) -> str:
        return secret_context(tenant_id, field)

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
            "secrets": {
                f: self._box.seal(getattr(tenant, f), self._context(tenant.id, f))
                for f in SECRET_FIELDS
            },
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
        cursor = self._db.tenants.find(query, {"secrets": 0}).sort("_id", 1).limit(limit)
        return [public_view(doc) async for doc in cursor]

    async def get(self, tenant_id: str) -> dict[str, Any] | None:
        doc = await self._db.tenants.find_one({"_id": tenant_id}, {"secrets": 0})
        return public_view(doc) if doc is not None else None

    async def update(
        self, tenant_id: str, changes: TenantChanges, *, now: datetime, aes_key_grace: timedelta
    ) -> dict[str, Any] | None:
        """Applies a PATCH; a replaced EncodingAESKey stays valid for ``aes_key_grace``."""
        doc = await self._db.tenants.find_one({"_id": tenant_id})
        if doc is None:
            return None
        doc.update(changes.fields)
        sealed = doc["secrets"]
        if "encoding_aes_key" in changes.secrets:
            sealed["previous_encoding_aes_key"] = sealed["encoding_aes_key"]
            doc["previous_aes_key_until"] = now + aes_key_grace
        for name, value in changes.secrets.items():
            sealed[name] = self._box.seal(value, self._context(tenant_id, name))
        doc["updated_at"] = now
        await self._db.tenants.replace_one({"_id": tenant_id}, doc)
        return public_view(doc)

    async def delete(self, tenant_id: str) -> bool:
        """Removes the tenant, its database and the gateway's records of its events."""
        if (await self._db.tenants.delete_one({"_id": tenant_id})).deleted_count == 0:
            return False
        await self._client.drop_database(tenant_db_name(tenant_id))
        for collection in ("gateway_seen", "gateway_published", "gateway_outbox"):
            await self._db[collection].delete_many({"tenant_id": tenant_id})
        return True

    async def credentials(self, tenant_id: str, *, now: datetime) -> Credentials | None:
        doc = await self._db.tenants.find_one({"_id": tenant_id})
        if doc is None:
            return None
        sealed = doc["secrets"]
        keys = [
            self._box.open(sealed["encoding_aes_key"], self._context(tenant_id, "encoding_aes_key"))
        ]
        until = doc.get("previous_aes_key_until")
        if "previous_encoding_aes_key" in sealed and isinstance(until, datetime) and until > now:
            keys.append(
                self._box.open(
                    sealed["previous_encoding_aes_key"],
                    self._context(tenant_id, "encoding_aes_key"),
                )
            )
        return Credentials(
            token=self._box.open(sealed["token"], self._context(tenant_id, "token")),
            appid=doc["appid"],
            encrypt_mode=doc["encrypt_mode"],
            aes_keys=tuple(keys),
        )
