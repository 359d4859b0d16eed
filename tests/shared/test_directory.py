"""The tenant directory on the real FerretDB: loaded whole in one query (as a consumer
service does when it connects), looked up one by one past that."""

from __future__ import annotations

import logging
import secrets

import pytest

from services.analytics.app import create_app
from services.analytics.settings import AnalyticsSettings
from shared.platform.directory import TenantDirectory
from shared.platform.settings import ConsumerSettings
from shared.platform.storage import CONTROL_DB, Client
from tests.support.bus import eventually
from tests.support.gateway import served
from tests.support.infra import common_settings


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
    try:
        assert await directory.timezone(later) == "Asia/Tokyo"
    finally:  # a bare record: the agency API would list it until the session ends
        await tenants.delete_one({"_id": later})


async def test_a_consumer_service_loads_the_directory_when_it_connects(
    mongo: Client,
    created_tenants: list[str],
    queue_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant_id = f"dir-{secrets.token_hex(4)}"
    created_tenants.append(tenant_id)
    await mongo[CONTROL_DB].tenants.insert_one({"_id": tenant_id, "name": "D"})
    known = await mongo[CONTROL_DB].tenants.count_documents({})
    settings = AnalyticsSettings(
        consumer=ConsumerSettings(
            common=common_settings(admin_key="directory-test"), queue_prefix=queue_prefix
        )
    )
    caplog.set_level(logging.INFO, logger="shared.platform.consumer_service")

    def loads() -> list[str]:
        """The service's "tenant directory: N tenants loaded" lines (the refresh logs lines
        that start with a tenant id, here "dir-…", too)."""
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "shared.platform.consumer_service"
            and r.getMessage().startswith("tenant directory:")
        ]

    async with served(create_app(settings)):

        async def loaded() -> bool:
            return bool(loads())

        await eventually(loaded, 10, "the directory loaded")

    await mongo[CONTROL_DB].tenants.delete_one({"_id": tenant_id})  # a bare record, as above
    [line] = loads()
    assert int(line.split()[2]) >= known  # every tenant there when it connected
