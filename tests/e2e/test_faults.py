"""Nothing a reader sends is lost when RabbitMQ or the database really goes away."""

from __future__ import annotations

import contextlib
import time

import aio_pika
import pytest
from aiohttp import ClientSession

from shared.contracts.topology import service_queues
from shared.platform.storage import CONTROL_DB
from tests.e2e.conftest import metric_total
from tests.support.bus import Tap, eventually, stays_true, wait_until
from tests.support.gateway import send
from tests.support.infra import (
    LOCAL,
    ROOT,
    amqp_url,
    broker_app,
    local_broker,
    local_database,
    run_command,
)

pytestmark = pytest.mark.faults
RELAY_INTERVAL = 0.5  # seconds between two passes of a gateway's outbox relay
SETTLE = 4 * RELAY_INTERVAL + 2.0  # several relay passes and a late confirm
WECHAT_WAIT = 5.0  # WeChat gives up on an answer after this long


async def readyz_down(http: ClientSession, url: str) -> tuple[int, list[str]]:
    """``/readyz``'s status and the checks it says are down."""
    async with http.get(f"{url}/readyz") as response:
        return response.status, list((await response.json())["down"])


async def eventually_down(
    http: ClientSession, url: str, status: int, down: list[str], timeout: float = 30
) -> None:
    async def answers() -> bool:
        return await readyz_down(http, url) == (status, down)

    await eventually(answers, timeout, what=f"{url}/readyz answering {status}, {down} down")


@pytest.mark.skipif(not local_broker(), reason="stops the local broker; AMQP_URL points elsewhere")
async def test_broker_outage_keeps_events_and_publishes_each_once_in_order(
    services, http, mongo, onboarded, queue_prefix
):
    relay = {"WXP_RELAY_INTERVAL_SECONDS": str(RELAY_INTERVAL)}
    gateways = [await services("gateway", **relay) for _ in range(2)]
    replies = [await services("replies") for _ in range(2)]
    _created, account = await onboarded(gateways[0].url, name="Outage", encrypt_mode="safe")
    # The tap's own connection dies with the broker; its durable queue does not. The test
    # reconnects by hand after the restart rather than trust a client library's recovery.
    keys = [f"{account.tenant_id}.#"]
    before = await aio_pika.connect(amqp_url())
    tap = await Tap.open(
        before, f"tap.{queue_prefix}.outage.{account.tenant_id}", keys, answer=None
    )
    plan = [
        ("o_ann", "text"),
        ("o_ben", "event:subscribe"),
        ("o_ann", "event:VIEW"),
        ("o_ann", "text"),
        ("o_ben", "text"),
        ("o_ann", "event:CLICK"),
        ("o_ben", "event:LOCATION"),
    ]
    direct = 'wxp_gateway_events_published_total{path="direct"}'
    published_before = await metric_total(http, gateways, direct)

    await broker_app("stop")
    try:
        # The gateways stay in the Service (their outbox keeps the events); the
        # consumers, with nothing to consume, leave it.
        for gateway in gateways:
            await eventually_down(http, gateway.url, 200, ["broker"])
        for service in replies:
            await eventually_down(http, service.url, 503, ["broker"])
        for n, (openid, sample) in enumerate(plan):
            gateway = gateways[n % 2]  # WeChat reaches either replica
            started = time.monotonic()
            answer = await send(
                http, gateway.url, account, sample, openid=openid, create_time=int(time.time()) + n
            )
            assert answer.status == 200
            assert answer.body == b"success"
            assert time.monotonic() - started < 4.0  # WeChat waits 5 s at most
        kept = await mongo[CONTROL_DB].gateway_outbox.count_documents(
            {"tenant_id": account.tenant_id}
        )
        replyable = sum(1 for _, s in plan if s in ("text", "event:subscribe", "event:CLICK"))
        assert kept == len(plan) + replyable  # every event, and a fallback for each replyable one
        # and none of them counted as published while the broker was away
        assert await metric_total(http, gateways, direct) == published_before
    finally:
        await broker_app("start")

    with contextlib.suppress(Exception):  # the old connection went down with the broker
        await before.close()
    after = await aio_pika.connect(amqp_url())
    try:
        tap = await Tap.open(after, tap.queue.name, keys, answer=None)
        await check_published_once_in_order(
            http, mongo, gateways, replies, account, tap, plan, replyable, queue_prefix
        )
    finally:
        await tap.close()
        await after.close()


async def check_published_once_in_order(
    http, mongo, gateways, replies, account, tap, plan, replyable, queue_prefix
):
    outbox = mongo[CONTROL_DB].gateway_outbox
    waiting = {"tenant_id": account.tenant_id, "published_at": None}
    try:
        await wait_until(lambda: len(tap.events) >= len(plan) + replyable, timeout=60)
    except AssertionError:
        kept = await outbox.count_documents(waiting)
        queue = await tap.channel.declare_queue(tap.queue.name, passive=True)
        analytics = await tap.channel.declare_queue(
            service_queues(queue_prefix)["analytics"].name, passive=True
        )
        published = await metric_total(http, gateways, "wxp_gateway_events_published_total")
        raise AssertionError(
            f"tap got {len(tap.events)} events; {kept} still kept; "
            f"{queue.declaration_result.message_count} waiting in the tap queue, "
            f"{analytics.declaration_result.message_count} in the analytics queue; "
            f"{published} published"
        ) from None
    for service in (*gateways, *replies):
        await eventually_down(http, service.url, 200, [])

    async def released() -> bool:
        return await outbox.count_documents(waiting) == 0

    await eventually(released, timeout=10, what="kept events released after publishing")
    # Both relays have nothing left to publish; over a window of several of their passes,
    # and a late confirm, nothing comes twice.
    await stays_true(
        lambda: len(tap.events) == len(plan) + replyable,
        seconds=SETTLE,
        what="no event published twice",
    )
    originals = [e for e in tap.events if e.type != "reply.fallback"]
    assert len(originals) == len(plan)
    assert len({e.id for e in tap.events}) == len(tap.events)  # each exactly once
    for reader in ("o_ann", "o_ben"):
        got = [e.type for e in originals if e.openid == reader]
        want = [
            ("msg." + s) if ":" not in s else "event." + s.split(":")[1].lower()
            for o, s in plan
            if o == reader
        ]
        assert got == want
    fallbacks = [e for e in tap.events if e.type == "reply.fallback"]
    assert {f.payload.reason for f in fallbacks} == {"broker_unavailable"}
    assert len(fallbacks) == replyable


@pytest.mark.skipif(not local_database(), reason="restarts the local FerretDB; MONGODB_URL is set")
async def test_database_outage_still_publishes_what_readers_send(
    services, http, tap_factory, onboarded
):
    # The credentials cache expires during the outage: the lookups behind it are bounded too.
    gateway = await services("gateway", WXP_TENANT_CACHE_SECONDS="1")
    _created, account = await onboarded(gateway.url, name="DB outage", encrypt_mode="plain")
    tap = await tap_factory([f"{account.tenant_id}.#"])
    assert (await send(http, gateway.url, account, "event:VIEW", openid="o_warm")).status == 200

    pidfile = ROOT / "var" / "run" / "ferretdb-test.pid"
    await run_command("kill", "-TERM", pidfile.read_text().strip())
    readers = [f"o_dan{n}" for n in range(6)]
    took = {}
    try:
        await eventually_down(http, gateway.url, 200, ["database"])  # still takes webhooks
        for n, openid in enumerate(readers):  # over more than the cache's second
            sample = "text" if n % 2 else "event:VIEW"
            started = time.monotonic()
            answer = await send(http, gateway.url, account, sample, openid=openid)
            took[openid] = round(time.monotonic() - started, 2)
            assert answer.status == 200, (openid, answer.status, answer.body)
    finally:
        await run_command(str(LOCAL / "start-infra.sh"))
    assert max(took.values()) < WECHAT_WAIT, took  # every webhook answered in time

    def sent_by_readers() -> list[str]:  # their messages and events, not what the platform says
        return sorted(e.openid for e in tap.events if e.openid in readers and e.kind != "reply")

    await wait_until(lambda: set(sent_by_readers()) == set(readers), timeout=30)
    await eventually_down(http, gateway.url, 200, [])
    await stays_true(lambda: sent_by_readers() == readers, SETTLE, what="each published once")
