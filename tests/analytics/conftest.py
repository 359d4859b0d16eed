"""An in-process analytics service (the real app) next to the in-process gateway, calling
the in-process fake WeChat API, for the tests that drive its API; and a tenant onboarded
through the gateway (and known to the fake WeChat) that has something to count: readers
who followed, wrote and clicked (signed webhooks, through the gateway and the bus), and a
broadcast submitted 25 hours ago whose impact is measured already."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aio_pika.abc import AbstractConnection
from aiohttp import ClientSession

from services.analytics.app import create_app
from services.analytics.settings import AnalyticsSettings
from shared.contracts.broadcast_events import BroadcastSubmitted
from shared.contracts.envelope import announce
from shared.platform.publisher import EventPublisher
from shared.platform.settings import ConsumerSettings
from shared.platform.storage import CONTROL_DB, Client
from shared.wechat.simulator import Account
from tests.gateway.conftest import ADMIN_KEY, gateway, http, new_account  # noqa: F401
from tests.support.bus import eventually
from tests.support.fake_wechat import Account as FakeAccount
from tests.support.fake_wechat import FakeWeChat
from tests.support.gateway import send, served
from tests.support.infra import common_settings

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
APP_SECRET = "secret"  # what `new_account` onboards every tenant with
READERS = (  # (sample, openid): what the busy tenant's readers do, through the gateway
    ("event:subscribe", "o_fuzz_a"),
    ("text", "o_fuzz_a"),
    ("event:CLICK", "o_fuzz_a"),
    ("event:subscribe", "o_fuzz_b"),
    ("image", "o_fuzz_b"),
    ("event:unsubscribe", "o_fuzz_c"),
)


@pytest.fixture(scope="module")
async def analytics(
    infra: None, queue_prefix: str, fake_server: tuple[FakeWeChat, str]
) -> AsyncIterator[str]:
    """The real analytics app, calling the fake WeChat; its refresh runs every second (a
    due impact is measured at once), the fold of its inboxes as it does in production."""
    _, wechat_base = fake_server
    common = common_settings(
        admin_key=ADMIN_KEY,
        api_rate_per_second=1000.0,
        api_burst=1000.0,
        wechat_api_base=wechat_base,
    )
    settings = AnalyticsSettings(
        consumer=ConsumerSettings(common=common, queue_prefix=queue_prefix),
        refresh_seconds=1.0,
    )
    async with served(create_app(settings)) as base:
        yield base


async def get_json(session: ClientSession, url: str) -> Any:
    async with session.get(url, headers=AUTH) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def submit_broadcast(amqp: AbstractConnection, tenant_id: str, at: datetime) -> None:
    """What the scheduler publishes when WeChat takes a mass send."""
    publisher = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
    await publisher.setup(amqp)
    payload = BroadcastSubmitted("b_fuzz", "r_fuzz", "all", msg_id="1000")
    envelope = announce(payload, id=f"{tenant_id}-submitted", tenant_id=tenant_id, at=at)
    try:
        await publisher.publish(envelope)
    finally:
        await publisher.close()


@pytest.fixture
async def busy_tenant(
    analytics: str,
    gateway: str,  # noqa: F811
    http: ClientSession,  # noqa: F811
    new_account: Callable[..., Awaitable[Account]],  # noqa: F811
    amqp: AbstractConnection,
    mongo: Client,
    fake_server: tuple[FakeWeChat, str],
) -> AsyncIterator[str]:
    """A tenant whose readers' messages and broadcast analytics has counted (the inboxes
    fold about 12 s after the last of them), and whose account the fake WeChat knows (so
    its QR codes and data cube answer); offboarded through the gateway at the end."""
    account = await new_account("plain")
    tenant_id = account.tenant_id
    fake, _ = fake_server
    fake.register(FakeAccount(account.appid, APP_SECRET))
    await submit_broadcast(amqp, tenant_id, datetime.now(UTC) - timedelta(hours=25))
    answers = await asyncio.gather(
        *(
            send(http, gateway, account, sample, openid=openid, msg_id=secrets.token_hex(6))
            for sample, openid in READERS
        )
    )
    assert [a.status for a in answers] == [200] * len(READERS), answers
    base = f"{analytics}/api/tenants/{tenant_id}"

    async def counted() -> bool:
        activity = await get_json(http, f"{base}/stats/activity")
        impacts = (await get_json(http, f"{base}/stats/broadcasts"))["broadcasts"]
        return bool(activity["followers_known"] == 2 and activity["active_7d"] == 2 and impacts)

    await eventually(counted, 40, f"tenant {tenant_id}'s readers and broadcast counted")
    yield tenant_id
    async with http.delete(f"{gateway}/api/tenants/{tenant_id}", headers=AUTH) as response:
        assert response.status in (204, 404), await response.text()
    await mongo[CONTROL_DB].analytics_impacts_due.delete_many({"tenant_id": tenant_id})
