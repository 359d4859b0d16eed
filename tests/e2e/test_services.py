"""All four services as processes: the consumers drain their queues, replies answers
the gateway at once, and SIGTERM lets in-flight work finish."""

from __future__ import annotations

import asyncio
import json
import time

import aio_pika

from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.topology import EVENTS_EXCHANGE, service_queues
from tests.e2e.conftest import ADMIN_KEY
from tests.support.bus import eventually, stays_true, wait_for_depth, wait_until
from tests.support.gateway import send


async def test_every_service_is_healthy_consumes_and_acks(
    services, http, amqp, queue_prefix, tap_factory, onboarded
):
    deadline = 3.0  # the gateway's default, stated so the timings below can rely on it
    gateway = await services("gateway", WXP_REPLY_DEADLINE_SECONDS=str(deadline))
    others = [await services(name) for name in ("replies", "scheduler", "analytics")]
    _created, account = await onboarded(gateway.url, name="All four", encrypt_mode="safe")
    tap = await tap_factory([f"{account.tenant_id}.reply.*"], answer=None)

    for service in (gateway, *others):
        for path, status in (("/healthz", 200), ("/readyz", 200), ("/metrics", 200)):
            async with http.get(service.url + path) as response:
                assert response.status == status, (service.name, path)
        async with http.get(service.url + "/readyz") as response:
            assert (await response.json())["checks"] == {
                "broker": True,
                "database": True,
                "background": True,
            }

    started = time.monotonic()
    for sample in ("text", "event:subscribe", "event:MASSSENDJOBFINISH", "event:VIEW"):
        answer = await send(http, gateway.url, account, sample)
        assert answer.status == 200
        assert answer.body == b"success"
    answered = time.monotonic()
    # replies answered "none" at once: waiting out the deadline once would take longer
    assert answered - started < deadline - 0.5

    queues = [spec.name for spec in service_queues(queue_prefix).values()]
    for name in queues:
        await wait_for_depth(amqp, name, 0)

    async def analytics_acked() -> float:  # taken off the queue is not handled yet
        async with http.get(others[2].url + "/metrics") as response:
            metrics = await response.text()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("wxp_consumer_messages_total") and 'outcome="ack"' in line
        )

    async def all_four_acked() -> bool:
        return await analytics_acked() >= 4

    await eventually(all_four_acked, 10, "analytics acking the four events")
    # Had a request missed the deadline, its reply.fallback would be out within the
    # deadline (and a publish) after the last answer: watch until then.
    await stays_true(
        lambda: not tap.of_type("reply.fallback"),
        seconds=answered + deadline + 0.5 - time.monotonic(),
        what="no reply.fallback published",
    )


async def test_sigterm_lets_the_gateway_finish_a_request_in_flight(
    services, http, tap_factory, onboarded
):
    gateway = await services("gateway", WXP_REPLY_DEADLINE_SECONDS="1.5")
    _created, account = await onboarded(gateway.url, name="Shutdown", encrypt_mode="plain")
    tap = await tap_factory([f"{account.tenant_id}.#"], answer=None)  # nobody replies in time

    in_flight = asyncio.ensure_future(send(http, gateway.url, account, "text", openid="o_last"))
    await wait_until(lambda: len(tap.events) == 1)  # published; now waiting for its reply
    code = await asyncio.to_thread(gateway.terminate)
    answer = await in_flight
    assert answer.status == 200
    assert answer.body == b"success"
    assert code == 0
    await wait_until(lambda: len(tap.of_type("reply.fallback")) == 1)
    log_lines = [json.loads(line) for line in gateway.log().splitlines() if line.startswith("{")]
    assert all(line["level"] != "critical" for line in log_lines)


async def test_events_of_a_deleted_tenant_are_dropped_not_handled(services, http, amqp, onboarded):
    gateway = await services("gateway")
    analytics = await services("analytics")
    created, _account = await onboarded(gateway.url, name="Gone soon", encrypt_mode="plain")
    async with http.delete(
        f"{gateway.url}/api/tenants/{created['id']}",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as response:
        assert response.status == 204
    # An event of that tenant still on its way (published before the delete, say).
    late = Envelope(
        id="late-1",
        tenant_id=created["id"],
        type="event.view",
        occurred_at="2026-01-01T00:00:00Z",
        received_at="2026-01-01T00:00:00Z",
        openid="o",
        payload=WeChatMessage(account="gh_late"),
    )
    channel = await amqp.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    await exchange.publish(aio_pika.Message(late.to_bytes()), late.routing_key, mandatory=True)

    async def dropped() -> bool:
        async with http.get(f"{analytics.url}/metrics") as response:
            text = await response.text()
        return any(
            float(line.rsplit(" ", 1)[1]) >= 1
            for line in text.splitlines()
            if line.startswith("wxp_consumer_messages_total") and 'outcome="dropped"' in line
        )

    await eventually(dropped, timeout=10, what="the deleted tenant's event dropped")
