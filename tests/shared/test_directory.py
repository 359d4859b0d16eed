"""The tenant directory on the real FerretDB: loaded whole in one query, looked up one by
one past that."""

from __future__ import annotations

import secrets

from shared.platform.directory import TenantDirectory
from shared.platform.storage import CONTROL_DB, Client


async def test_load_caches_every_tenant_so_no_event_waits_for_its_own_lookup(
    mongo: Client, created_tenants: list[str]
) -> None:
    tenants = mongo[CONTROL_DB].tenants
    berlin, plain, later = (f"dir-{secrets.token_hex(4)}" for _ in range(3))
    created_tenants.extend([berlin, plain, later])
    await tenants.insert_many(
        [{"_id": berlin, "name": "B", "timezone": "Europe/Berlin"}, {"_id": plain, "name": "P"}]
    )
    directory = TenantDirectory(mongo)

    assert await directory.load() >= 2
    # Gone from the database, still known: the answers come from the one load.
    await tenants.delete_many({"_id": {"$in": [berlin, plain]}})
    assert await directory.timezone(berlin) == "Europe/Berlin"
    assert await directory.timezone(plain) == "Asia/Shanghai"  # the platform's default
    assert await directory.exists(plain)

    # A tenant onboarded after the load is looked up on its own, as before.
    await tenants.insert_one({"_id": later, "name": "L", "timezone": "Asia/Tokyo"})
    assert await directory.timezone(later) == "Asia/Tokyo"
