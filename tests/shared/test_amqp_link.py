"""The consumer's own AMQP link on the real broker: whole messages whatever their size,
acks and redeliveries, and every way the link can end (refused, cancelled by the broker,
closed for a protocol error, silent past its heartbeats), each a clear reason; and the
consumer that owns it, which reconnects when its link is lost."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
import uvloop
from aio_pika.abc import AbstractConnection
from prometheus_client import CollectorRegistry

from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.topology import EVENTS_EXCHANGE, QueueSpec, declare_queue
from shared.platform.amqp_link import AmqpLink, LinkClosed, NotPublished, link_beside
from shared.platform.bus import Broker
from shared.platform.consumer import Consumer
from shared.platform.delivery import Delivery, Handlers, Properties
from shared.platform.metrics import ConsumerMetrics
from tests.support.blackhole import BlackHole
from tests.support.bus import delete_queue_and_twins, wait_for_depth, wait_until
from tests.support.infra import amqp_url

Taken = tuple[int, bool, Properties, bytes]


@pytest.fixture
async def queue(amqp: AbstractConnection) -> AsyncIterator[QueueSpec]:
    spec = QueueSpec(f"link.{secrets.token_hex(4)}", ())
    channel = await amqp.channel()
    await declare_queue(channel, spec)
    await channel.close()
    yield spec
    await delete_queue_and_twins(amqp, spec)


async def put(amqp: AbstractConnection, queue: str, *messages: aio_pika.Message) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    for message in messages:
        await channel.default_exchange.publish(message, queue)
    await channel.close()


async def consuming(queue: str, url: str = "", prefetch: int = 10) -> tuple[AmqpLink, list[Taken]]:
    taken: list[Taken] = []
    link = await AmqpLink.open(url or amqp_url(), prefetch=prefetch, name="wxp-test-link")
    await link.consume(queue, lambda *delivery: taken.append(delivery))
    return link, taken


def with_url(**changes: Any) -> str:
    return urlunsplit(urlsplit(amqp_url())._replace(**changes))


async def test_a_large_body_and_an_empty_one_arrive_whole_with_their_properties(amqp, queue):
    """A body over the frame size comes in several frames; an empty one in none."""
    large = secrets.token_bytes(400_000)
    await put(
        amqp,
        queue.name,
        aio_pika.Message(large, headers={"x-wxp-retries": 2}, message_id="m1", reply_to="r"),
        aio_pika.Message(b"", correlation_id="c2", content_type="application/json"),
    )
    link, taken = await consuming(queue.name)
    try:
        await wait_until(lambda: len(taken) == 2, 10, what="both deliveries")
        (tag1, again1, first, body1), (tag2, again2, second, body2) = taken
        assert (body1 == large, body2) == (True, b"")
        assert (tag1, tag2, again1, again2) == (1, 2, False, False)
        assert (first.headers, first.message_id, first.reply_to) == (
            {"x-wxp-retries": 2},
            "m1",
            "r",
        )
        assert (second.correlation_id, second.content_type) == ("c2", "application/json")
        await link.basic_ack(2, multiple=True)
        await wait_for_depth(amqp, queue.name, 0)
    finally:
        await link.close()
    assert link.closed.result() == "closed"


async def test_what_is_not_acked_comes_back_redelivered_after_a_close(amqp, queue):
    await put(amqp, queue.name, *(aio_pika.Message(b"%d" % n) for n in range(3)))
    link, taken = await consuming(queue.name)
    await wait_until(lambda: len(taken) == 3, 10, what="three deliveries")
    await link.basic_ack(2)  # the middle one alone
    await link.basic_nack(3, requeue=True)
    await link.close()
    with pytest.raises(LinkClosed):
        await link.basic_ack(1)
    link, again = await consuming(queue.name)
    try:
        await wait_until(lambda: len(again) == 2, 10, what="the two unacked, again")
        assert sorted((body, redelivered) for _, redelivered, _, body in again) == [
            (b"0", True),
            (b"2", True),
        ]
    finally:
        await link.close()


async def test_wrong_credentials_are_refused_with_the_brokers_reason(infra: None) -> None:
    parts = urlsplit(amqp_url())
    url = with_url(netloc=f"{parts.username}:not-the-password@{parts.hostname}:{parts.port}")
    with pytest.raises(LinkClosed, match="403 ACCESS_REFUSED"):
        await AmqpLink.open(url, prefetch=1, name="wxp-test-link")


async def test_a_deleted_queue_ends_the_link(amqp, queue):
    link, _ = await consuming(queue.name)
    channel = await amqp.channel()
    await channel.queue_delete(queue.name)
    await channel.close()
    why = await asyncio.wait_for(asyncio.shield(link.closed), 10)
    assert "cancelled by the broker" in why
    assert not link.is_open


async def test_an_ack_the_broker_does_not_know_ends_the_link_with_its_reason(amqp, queue):
    link, _ = await consuming(queue.name)
    await link.basic_ack(999)
    why = await asyncio.wait_for(asyncio.shield(link.closed), 10)
    assert "406 PRECONDITION_FAILED" in why
    with pytest.raises(LinkClosed):
        await link.basic_ack(1)


async def test_a_broker_gone_silent_is_dropped_after_two_heartbeats(amqp, queue):
    broker = urlsplit(amqp_url())
    hole = await BlackHole.start(broker.hostname or "127.0.0.1", broker.port or 5672)
    try:
        url = with_url(
            netloc=f"{broker.username}:{broker.password}@{hole.address}", query="heartbeat=1"
        )
        link, taken = await consuming(queue.name, url)
        await put(amqp, queue.name, aio_pika.Message(b"before"))
        await wait_until(lambda: len(taken) == 1, 10, what="a delivery through the proxy")
        hole.cut()
        why = await asyncio.wait_for(asyncio.shield(link.closed), 10)
        assert why == "missed heartbeats"
    finally:
        await hole.close()


def test_the_link_runs_on_uvloop_as_the_services_do(infra: None) -> None:
    """uvloop's transports are not asyncio's classes."""
    spec = QueueSpec(f"link.{secrets.token_hex(4)}", ())

    async def round_trip() -> list[bytes]:
        connection = await aio_pika.connect(amqp_url())
        try:
            channel = await connection.channel()
            await declare_queue(channel, spec)
            await put(connection, spec.name, aio_pika.Message(b"on uvloop"))
            link, taken = await consuming(spec.name)
            await wait_until(lambda: len(taken) == 1, 10, what="the delivery")
            await link.basic_ack(taken[0][0])
            await link.close()
            await delete_queue_and_twins(connection, spec)
            return [body for *_, body in taken]
        finally:
            await connection.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(round_trip()) == [b"on uvloop"]


async def test_a_consumer_whose_link_is_lost_reconnects_and_consumes_again(amqp) -> None:
    """The queue deleted under it ends the link; the consumer closes its broker connection,
    the broker loop reconnects, the set-up declares the queue again and consumes."""
    tenant = f"l{secrets.token_hex(4)}"
    spec = QueueSpec(f"link.{tenant}", (f"{tenant}.#",))
    seen: list[str] = []

    async def handler(delivery: Delivery[WeChatMessage]) -> None:
        seen.append(delivery.envelope.id)

    consumer = Consumer(
        spec,
        Handlers().on(WeChatMessage, handler),
        metrics=ConsumerMetrics.create(CollectorRegistry()),
    )
    connects = 0

    async def counted(connection: AbstractConnection) -> None:
        nonlocal connects
        connects += 1

    broker = Broker(amqp_url(), name="wxp-test-link", on_connect=[consumer.setup, counted])
    running = asyncio.create_task(broker.run())
    try:
        await wait_until(lambda: broker.connected, 10, what="connected")
        channel = await amqp.channel()
        await channel.queue_delete(spec.name)
        await wait_until(lambda: connects == 2, 15, what="a second set-up")
        body = Envelope(
            id="ev1",
            tenant_id=tenant,
            type="msg.text",
            occurred_at="2026-01-01T00:00:00Z",
            received_at="2026-01-01T00:00:00Z",
            openid="o",
            payload=WeChatMessage(account="gh_test", fields={}),
        ).to_bytes()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(aio_pika.Message(body), f"{tenant}.msg.text")
        await wait_until(lambda: seen == ["ev1"], 10, what="the message after the reconnect")
        await wait_for_depth(amqp, spec.name, 0)  # acked on the new link
    finally:
        await consumer.stop(1)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await delete_queue_and_twins(amqp, spec)


async def test_confirms_resolve_and_an_unroutable_mandatory_publish_is_refused(amqp, queue):
    link = await AmqpLink.open(amqp_url(), name="wxp-test-link", confirms=True)
    try:
        taken = [
            link.publish(b"%d" % n, routing_key=queue.name, properties=Properties())
            for n in range(50)
        ]
        lost = link.publish(
            b"nowhere",
            routing_key=f"{queue.name}.none",
            properties=Properties(message_id="m-lost"),
            mandatory=True,
        )
        await asyncio.wait_for(asyncio.gather(*taken), 10)  # type: ignore[arg-type]
        assert lost is not None
        with pytest.raises(NotPublished, match="312 NO_ROUTE"):
            await asyncio.wait_for(lost, 10)
        await wait_for_depth(amqp, queue.name, 50)
        assert link.is_open
    finally:
        await link.close()


async def test_confirms_outstanding_when_the_link_ends_fail_with_its_reason(amqp, queue):
    """A publish to an exchange that does not exist closes the channel (404): every
    confirm still open fails, as a broker that went away would make them."""
    link = await AmqpLink.open(amqp_url(), name="wxp-test-link", confirms=True)
    doomed = link.publish(
        b"x", exchange="wx.no-such-exchange", routing_key="k", properties=Properties()
    )
    assert doomed is not None
    with pytest.raises(LinkClosed, match="404 NOT_FOUND"):
        await asyncio.wait_for(doomed, 10)
    with pytest.raises(LinkClosed):
        link.publish(b"y", routing_key=queue.name, properties=Properties())
    assert link.lost


async def test_direct_reply_to_round_trip_between_two_links(amqp, queue):
    """The asker consumes amq.rabbitmq.reply-to (no acks) on the link it publishes from;
    the responder answers to the address its delivery carries, unconfirmed."""
    answers: list[tuple[str | None, bytes]] = []
    asker = await AmqpLink.open(amqp_url(), name="wxp-test-asker", confirms=True)
    await asker.consume(
        "amq.rabbitmq.reply-to",
        lambda _tag, _again, properties, body: answers.append((properties.correlation_id, body)),
        no_ack=True,
    )
    responder, asked = await consuming(queue.name)
    try:
        question = Properties(correlation_id="c-1", reply_to="amq.rabbitmq.reply-to")
        confirm = asker.publish(b"ping", routing_key=queue.name, properties=question)
        await asyncio.wait_for(confirm, 10)  # type: ignore[arg-type]
        await wait_until(lambda: len(asked) == 1, 10, what="the question")
        tag, _, properties, _ = asked[0]
        assert properties.reply_to is not None
        assert properties.reply_to.startswith("amq.rabbitmq.reply-to.")
        answer = Properties(correlation_id=properties.correlation_id)
        responder.publish(b"pong", routing_key=properties.reply_to, properties=answer)
        await responder.basic_ack(tag)
        await wait_until(lambda: answers == [("c-1", b"pong")], 10, what="the answer")
    finally:
        await asker.close()
        await responder.close()


async def test_a_link_beside_a_connection_closes_with_it_and_takes_its_name(infra: None) -> None:
    connection = await aio_pika.connect(
        amqp_url(), client_properties={"connection_name": "wxp-test-beside"}
    )
    link = await link_beside(connection, role="publishing", confirms=True)
    assert link.name == "wxp-test-beside publishing"
    await connection.close()
    assert await asyncio.wait_for(asyncio.shield(link.closed), 5) == "closed"
    assert not link.lost
