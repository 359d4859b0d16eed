"""Tenants in ``wxp_control.tenants``: one document per account, its secrets sealed
with the master key in the layout ``shared.platform.tenant_records`` owns.

Every document carries a ``version``, one more at each change. A change sets only the
fields it changes, on the version it read, under a claim (``revisions.py``): two
concurrent PATCHes never undo each other, whatever the database. A change that keeps
losing the race (``UPDATE_ATTEMPTS`` times) raises :class:`Contended`.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any

from services.gateway.revisions import Revisions
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
    "connected_at",
    "version",
)
VERSION = "version"
UPDATE_ATTEMPTS = 8


class Conflict(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Contended(Exception):
    """Other changes of the same tenant kept winning the race: the caller may try again."""


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    view = {name: doc.get(name) for name in PUBLIC_FIELDS if name != "id"}
    view["id"] = doc["_id"]
    view[VERSION] = doc.get(VERSION, 0)  # 0: written before documents had versions
    for stamp in ("created_at", "updated_at", "connected_at"):
        value = view.get(stamp)
        if isinstance(value, datetime):
            view[stamp] = value.isoformat()
    if view.get("updated_at") is None:
        view.pop("updated_at", None)
    return view


def _still_at(doc: dict[str, Any]) -> dict[str, Any]:
    """The condition that a tenant document is still at the version ``doc`` was read at."""
    return {VERSION: doc[VERSION]} if VERSION in doc else {VERSION: {"$exists": False}}


OFFBOARDING = "tenant_offboarding"  # tenants gone whose data is still to drop (delete)
DONE = "done_at"  # an offboarding note's: when its tenant's data had all gone


class TenantRepository:
    def __init__(self, client: Client, box: SecretBox) -> None:
        self._client = client
        self._db = client[CONTROL_DB]
        self._box = box
        self._revisions = Revisions(client)

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
            VERSION: 1,
            **seal_secrets(self._box, tenant.id, tenant.secrets),
        }
        if await self._db[OFFBOARDING].find_one({"_id": tenant.id}, {"_id": 1}) is not None:
            # its old data may still be there, and would be dropped with the new tenant's
            raise Conflict("id", f"tenant {tenant.id} is still being offboarded; try later")
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
        for attempt in range(UPDATE_ATTEMPTS):
            doc = await self._db.tenants.find_one({"_id": tenant_id})
            if doc is None:
                return None
            version = int(doc.get(VERSION, 0))
            claim = await self._revisions.claim(tenant_id, version, now=now)
            if claim is not None:
                changed = self._changed(doc, changes, now=now, grace=aes_key_grace)
                try:
                    result = await self._db.tenants.update_one(
                        {"_id": tenant_id, **_still_at(doc)},
                        {"$set": {**changed, VERSION: version + 1}},
                    )
                finally:
                    await self._revisions.release(claim)
                if result.matched_count == 1:
                    return public_view(
                        {**doc, **changes.fields, "updated_at": now, VERSION: version + 1}
                    )
            await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise Contended(f"tenant {tenant_id} is being changed by others; try again")

    def _changed(
        self, doc: dict[str, Any], changes: TenantChanges, *, now: datetime, grace: timedelta
    ) -> dict[str, Any]:
        """The fields to set: the public ones changed, and each secret resealed."""
        resealed = reseal_secrets(self._box, doc, changes.secrets, previous_until=now + grace)
        sealed = resealed.pop(SECRETS)
        secrets = {
            f"{SECRETS}.{name}": value
            for name, value in sealed.items()
            if doc[SECRETS].get(name) != value
        }
        return {**changes.fields, **resealed, **secrets, "updated_at": now}

    async def mark_connected(self, tenant_id: str, *, now: datetime) -> bool:
        """Records the first verified webhook; False when one was recorded before (or the
        tenant is gone). Not a change by the agency: the version stays."""
        result = await self._db.tenants.update_one(
            {"_id": tenant_id, "connected_at": {"$exists": False}},
            {"$set": {"connected_at": now}},
        )
        return result.modified_count == 1

    async def delete(self, tenant_id: str, *, now: datetime) -> bool:
        """Removes the tenant's document, first noting that its data is to go
        (``tenant_offboarding``): what fails after the document went is finished from that
        note (``drop_data``, then ``offboarded``), by this request or by a later purge.
        False if the document was gone."""
        note = {"_id": tenant_id, "since": now}
        await self._db[OFFBOARDING].replace_one({"_id": tenant_id}, note, upsert=True)
        return (await self._db.tenants.delete_one({"_id": tenant_id})).deleted_count == 1

    async def drop_data(self, tenant_id: str) -> None:
        """An offboarded tenant's database and change claims (again: nothing happens)."""
        await self._revisions.forget_tenant(tenant_id)
        await self.drop_database(tenant_id)

    async def offboarded(self, tenant_id: str, *, now: datetime) -> None:
        """Everything of the tenant is gone: its note says since when, and stays while a
        consumer that has not heard of it yet may still write (``settling``)."""
        await self._db[OFFBOARDING].update_one({"_id": tenant_id}, {"$set": {DONE: now}})

    async def settling(self, *, now: datetime, settle: timedelta) -> tuple[str, ...]:
        """Tenants offboarded less than ``settle`` ago, whose database a consumer's late
        write may have brought back (one keeps a known tenant for up to 30 s, and a write
        it began may land later still): the purge drops it again. Notes settled longer
        ago go, and their ids may be onboarded again."""
        notes = self._db[OFFBOARDING]
        await notes.delete_many({DONE: {"$lt": now - settle}})
        return tuple(
            [str(note["_id"]) async for note in notes.find({DONE: {"$gte": now - settle}})]
        )

    async def drop_database(self, tenant_id: str) -> None:
        """An offboarded tenant's database, again (nothing happens if it is not there)."""
        await self._client.drop_database(tenant_db_name(tenant_id))

    async def offboarding(self) -> tuple[str, ...]:
        """Tenants whose document is gone and whose data may not be yet. A note whose
        tenant is still there is an offboarding under way, or one that failed before the
        document went: not one to finish (that would drop a live tenant's data)."""
        unfinished = self._db[OFFBOARDING].find({DONE: {"$exists": False}}, {"_id": 1})
        noted = [str(note["_id"]) async for note in unfinished]
        if not noted:
            return ()
        there = self._db.tenants.find({"_id": {"$in": noted}}, {"_id": 1})
        live = {str(doc["_id"]) async for doc in there}
        return tuple(tenant_id for tenant_id in noted if tenant_id not in live)

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
