"""Webhooks while the database hangs: a gateway whose MongoDB sits behind a black hole
(a TCP proxy to the real FerretDB that a test can cut), so the shared database stays up
for everyone else. The credentials lookup waits 1 s at most: a known account is served
from its cached credentials, however old; an account never seen gets 503 at once."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from aiohttp import ClientSession

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.conftest import account_from, new_appid
from tests.gateway.conftest import ADMIN_KEY
from tests.support.blackhole import BlackHole
from tests.support.bus import wait_until
from tests.support.gateway import onboard, send, served
from tests.support.infra import common_settings, mongodb_url


@dataclass
class Outage:
    base: str
    database: BlackHole


@pytest.fixture
async def outage(queue_prefix: str) -> AsyncIterator[Outage]:
    real = urlparse(mongodb_url())
    database = await BlackHole.start(real.hostname or "127.0.0.1", real.port or 27017)
    settings = GatewaySettings(
        common=common_settings(
            admin_key=ADMIN_KEY, mongodb_url=f"mongodb://{database.address}/", api_burst=100.0
        ),
        queue_prefix=queue_prefix,
        reply_deadline_seconds=1.0,
        tenant_cache_seconds=0.0,  # every webhook asks the database: only the stale copy is left
    )
    async with served(create_app(settings)) as base:
        yield Outage(base, database)
        database.restore()
    await database.close()


async def unchecked(http: ClientSession, base: str) -> float:
    async with http.get(f"{base}/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith("wxp_gateway_replay_unchecked_total "):
                return float(line.split()[1])
    raise AssertionError("no wxp_gateway_replay_unchecked_total")


async def test_a_hanging_database_costs_a_webhook_a_bounded_wait(
    outage, http, tap_factory, created_tenants
):
    created = await onboard(
        http,
        outage.base,
        ADMIN_KEY,
        name="Outage",
        appid=new_appid(),
        app_secret="s",
        account_type="service",
        encrypt_mode="plain",
    )
    created_tenants.append(created["id"])
    account = account_from(created)
    tap = await tap_factory([f"{account.tenant_id}.#"])
    assert (await send(http, outage.base, account, "event:VIEW", openid="o_before")).status == 200

    unchecked_before = await unchecked(http, outage.base)
    outage.database.cut()
    # The first webhook waits 1 s for its credentials, then takes the stale copy, and 1 s
    # for dedup; the next ones skip the credentials and replay check at once.
    for openid, bound in (("o_during1", 2.6), ("o_during2", 1.6)):
        started = time.monotonic()
        answer = await send(http, outage.base, account, "event:VIEW", openid=openid)
        assert answer.status == 200, answer.body
        assert time.monotonic() - started < bound, openid
    started = time.monotonic()
    async with http.post(
        f"{outage.base}/wx/t{secrets.token_hex(5)}?timestamp=1&nonce=1", data=b"<xml/>"
    ) as response:
        assert response.status == 503
        assert await response.text() == "unavailable: try again"
    assert time.monotonic() - started < 0.5  # nothing cached, and the database is failing

    await wait_until(
        lambda: {e.openid for e in tap.events} >= {"o_before", "o_during1", "o_during2"},
        what="the events of the outage published",
    )
    # plain mode: the replay check could not be made, and says so
    assert await unchecked(http, outage.base) - unchecked_before == 2
    outage.database.restore()
    assert (await send(http, outage.base, account, "event:VIEW", openid="o_after")).status == 200
