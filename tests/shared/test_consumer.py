"""The one failure policy every consumer has, on the real broker: ack after the work,
retry a bounded number of times, dead-letter poison, finish in-flight work on stop."""

from __future__ import annotations

import asyncio
import secrets

import aio_pika
from prometheus_client import CollectorRegistry

from shared.consumer import Consumer, Delivery, Reject
from shared.envelope import Envelope
from shared.metrics import ConsumerMetrics
from shared.topology import EVENTS_EXCHANGE, QueueSpec, declare_queue
from tests.support.bus import queue_depth, wait_for_depth, wait_until


def envelope(tenant: str, n: int) -> Envelope:
    return Envelope(
        id=f"ev{n}",
        tenant_id=tenant,
        type="msg.text",
        occurred_at="2026-01-01T00:00:00Z",
        received_at="2026-01-01T00:00:00Z",
        openid="o",
        payload={"n": n},
    )


async def publish(amqp, routing_key: str, body: bytes) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    await exchange.publish(
        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key,
        mandatory=True,
    )
    await channel.close()


async def start(
    amqp, handler, *, delivery_limit: int = 2
) -> tuple[Consumer, QueueSpec, str, ConsumerMetrics]:
    tenant = f"c{secrets.token_hex(4)}"
    spec = QueueSpec(f"cons.{tenant}", (f"{tenant}.#",), delivery_limit=delivery_limit)
    metrics = ConsumerMetrics.create(CollectorRegistry())
    consumer = Consumer(spec, handler, metrics=metrics, prefetch=4)
    await consumer.setup(amqp)
    return consumer, spec, tenant, metrics


async def cleanup(amqp, spec: QueueSpec) -> None:
    channel = await amqp.channel()
    await channel.queue_delete(spec.name)
    await channel.queue_delete(spec.dead_letter_name)
    await channel.close()


def count(metrics: ConsumerMetrics, spec: QueueSpec, outcome: str) -> float:
    return metrics.messages.labels(spec.name, outcome)._value.get()


async def test_failures_retry_then_dead_letter_and_poison_goes_straight_there(amqp):
    attempts: dict[str, int] = {}

    async def handler(delivery: Delivery) -> None:
        attempts[delivery.envelope.id] = attempts.get(delivery.envelope.id, 0) + 1
        if delivery.envelope.payload["n"] == 1:
            raise RuntimeError("transient forever")
        if delivery.envelope.payload["n"] == 2:
            raise Reject("never valid")

    consumer, spec, tenant, metrics = await start(amqp, handler, delivery_limit=2)
    try:
        for n in (0, 1, 2):
            await publish(amqp, f"{tenant}.msg.text", envelope(tenant, n).to_bytes())
        await publish(amqp, f"{tenant}.msg.text", b"\xff not an envelope")
        await wait_until(
            lambda: (
                count(metrics, spec, "dead_letter") == 2 and count(metrics, spec, "requeue") >= 3
            ),
            timeout=20,
        )
        await wait_until(lambda: attempts.get("ev1", 0) == 3, timeout=20)
        await wait_for_depth(amqp, spec.dead_letter_name, 3)  # poison, rejected, over the limit
        assert attempts == {"ev0": 1, "ev1": 3, "ev2": 1}  # first try plus delivery_limit retries
        assert count(metrics, spec, "ack") == 1
        assert await queue_depth(amqp, spec.name) == 0
    finally:
        await consumer.stop(1)
        await cleanup(amqp, spec)


async def test_stop_finishes_in_flight_work_and_acks_nothing_it_did_not_finish(amqp):
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(delivery.envelope.id)

    consumer, spec, tenant, metrics = await start(amqp, slow)
    try:
        await publish(amqp, f"{tenant}.msg.text", envelope(tenant, 0).to_bytes())
        await asyncio.wait_for(started.wait(), 10)
        await consumer.stop(grace=5)
        assert finished == ["ev0"]
        assert count(metrics, spec, "ack") == 1
        assert await queue_depth(amqp, spec.name) == 0
    finally:
        await cleanup(amqp, spec)


async def test_work_cut_off_at_shutdown_is_redelivered(amqp):
    started = asyncio.Event()

    async def stuck(delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(30)

    connection = await aio_pika.connect(amqp.url)
    consumer, spec, tenant, metrics = await start(connection, stuck)
    try:
        await publish(amqp, f"{tenant}.msg.text", envelope(tenant, 0).to_bytes())
        await asyncio.wait_for(started.wait(), 10)
        await consumer.stop(grace=0.2)
        await connection.close()  # the process ends here; the message was never acked
        assert count(metrics, spec, "ack") == 0
        await wait_for_depth(amqp, spec.name, 1)
    finally:
        await cleanup(amqp, spec)


async def test_declaring_twice_is_idempotent(amqp):
    spec = QueueSpec(f"idem.{secrets.token_hex(3)}", ("x.#",))
    channel = await amqp.channel()
    try:
        await declare_queue(channel, spec)
        queue = await declare_queue(channel, spec)
        assert queue.name == spec.name
    finally:
        await cleanup(amqp, spec)
