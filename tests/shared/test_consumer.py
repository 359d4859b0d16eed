"""The one failure policy every consumer has, on the real broker: ack after the work,
retry a bounded number of times, dead-letter poison, finish in-flight work on stop."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from prometheus_client import CollectorRegistry, Histogram

from shared.contracts.broadcast_events import BroadcastImpact
from shared.contracts.bundle import (
    ANSWERS_CONTENT_TYPE,
    ANSWERS_HEADER,
    ASKS_HEADER,
    BUNDLE_CONTENT_TYPE,
    TOGETHER_HEADER,
    ReplyAsk,
    decode_answers,
    encode_asks,
    encode_bundle,
)
from shared.contracts.envelope import REPLY_BUDGET_HEADER, Envelope, announce, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.payloads import decode
from shared.contracts.reply_events import ReplyFallback, ReplySent, reply_sent
from shared.contracts.topology import EVENTS_EXCHANGE, QueueSpec, declare_queue
from shared.platform.consumer import Consumer
from shared.platform.delivery import (
    DEAD_LETTER_REASON,
    RETRIES_HEADER,
    Deferred,
    Delivery,
    Handlers,
    Reject,
    RetryLater,
)
from shared.platform.metrics import ConsumerMetrics
from shared.platform.publisher import EventPublisher
from tests.support.bus import (
    delete_queue_and_twins,
    queue_depth,
    stays_true,
    wait_for_depth,
    wait_until,
)

RETRY_DELAY = 1.0  # seconds a retried message waits in the test queues' retry queue


def envelope(tenant: str, n: int) -> Envelope[WeChatMessage]:
    return Envelope(
        id=f"ev{n}",
        tenant_id=tenant,
        type="msg.text",
        occurred_at="2026-01-01T00:00:00Z",
        received_at="2026-01-01T00:00:00Z",
        openid="o",
        payload=WeChatMessage(account="gh_test", fields={"n": n}),
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
    amqp,
    handler,
    *,
    delivery_limit: int = 2,
    handlers: Handlers | None = None,
    retry_delay: float = RETRY_DELAY,
    prefetch: int = 4,
) -> tuple[Consumer, QueueSpec, str, ConsumerMetrics]:
    """A consumer of a queue of its own; ``handler`` takes WeChat messages (or ``handlers``)."""
    tenant = f"c{secrets.token_hex(4)}"
    spec = QueueSpec(
        f"cons.{tenant}", (f"{tenant}.#",), delivery_limit=delivery_limit, retry_delay=retry_delay
    )
    metrics = ConsumerMetrics.create(CollectorRegistry())
    routes = handlers if handlers is not None else Handlers().on(WeChatMessage, handler)
    consumer = Consumer(spec, routes, metrics=metrics, prefetch=prefetch)
    await consumer.setup(amqp)
    return consumer, spec, tenant, metrics


def count(metrics: ConsumerMetrics, spec: QueueSpec, outcome: str) -> float:
    return metrics.messages.labels(spec.name, outcome)._value.get()


async def test_failures_retry_then_dead_letter_and_poison_goes_straight_there(amqp):
    attempts: dict[str, int] = {}

    async def handler(delivery: Delivery) -> None:
        attempts[delivery.envelope.id] = attempts.get(delivery.envelope.id, 0) + 1
        if delivery.envelope.payload.fields["n"] == 1:
            raise RuntimeError("transient forever")
        if delivery.envelope.payload.fields["n"] == 2:
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
        await delete_queue_and_twins(amqp, spec)


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
        await delete_queue_and_twins(amqp, spec)


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
        await delete_queue_and_twins(amqp, spec)


async def test_declaring_twice_is_idempotent(amqp):
    spec = QueueSpec(f"idem.{secrets.token_hex(3)}", ("x.#",))
    channel = await amqp.channel()
    try:
        await declare_queue(channel, spec)
        queue = await declare_queue(channel, spec)
        assert queue.name == spec.name
    finally:
        await delete_queue_and_twins(amqp, spec)


async def dead_letters(amqp, spec: QueueSpec, want: int) -> list[aio_pika.abc.AbstractMessage]:
    """The messages in the queue's DLQ (taken off it), once ``want`` are there."""
    await wait_for_depth(amqp, spec.dead_letter_name, want)
    channel = await amqp.channel()
    queue = await channel.declare_queue(spec.dead_letter_name, passive=True)
    taken = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        taken.append(message)
    await channel.close()
    return taken


def fallback_body(outer: str, inner: str) -> bytes:
    inner_event = envelope(inner, 7)
    return json.dumps(
        {
            "v": 1,
            "id": "fb1",
            "tenant_id": outer,
            "type": "reply.fallback",
            "occurred_at": "2026-01-01T00:00:00Z",
            "received_at": "2026-01-01T00:00:00Z",
            "openid": "o",
            "payload": {"reason": "deadline", "event": inner_event.as_json()},
        }
    ).encode()


async def test_undecodable_and_cross_tenant_envelopes_are_dead_lettered_with_their_reason(amqp):
    handled: list[str] = []

    async def handler(delivery: Delivery) -> None:
        handled.append(delivery.envelope.id)

    consumer, spec, tenant, metrics = await start(
        amqp, None, handlers=Handlers().on(ReplyFallback, handler)
    )
    try:
        await publish(amqp, f"{tenant}.reply.fallback", fallback_body(tenant, "someone-else"))
        await publish(amqp, f"{tenant}.reply.fallback", b'{"v": 1, "id": "x"}')
        await publish(amqp, f"{tenant}.reply.fallback", fallback_body(tenant, tenant))
        await wait_until(lambda: handled == ["fb1"], timeout=10)
        reasons = sorted(
            str(m.headers[DEAD_LETTER_REASON]).split(":")[0]
            for m in await dead_letters(amqp, spec, 2)
        )
        assert reasons == ["tenant_mismatch", "undecodable"]
        dead = metrics.dead_lettered
        assert dead.labels(spec.name, "tenant_mismatch")._value.get() == 1
        assert dead.labels(spec.name, "undecodable")._value.get() == 1
        assert count(metrics, spec, "dead_letter") == 2
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_the_frame_routes_typed_payloads_by_type_and_acks_types_nobody_handles(amqp):
    messages: list[WeChatMessage] = []
    sent: list[ReplySent] = []

    async def on_message(delivery: Delivery[WeChatMessage]) -> None:
        messages.append(delivery.envelope.payload)

    async def on_sent(delivery: Delivery[ReplySent]) -> None:
        sent.append(delivery.envelope.payload)

    handlers = Handlers().on(WeChatMessage, on_message).on(ReplySent, on_sent)
    consumer, spec, tenant, metrics = await start(amqp, None, handlers=handlers)
    try:
        original = envelope(tenant, 1)
        when = datetime(2026, 1, 1, tzinfo=UTC)
        await publish(amqp, original.routing_key, original.to_bytes())
        receipt = reply_sent(original, rule_id="r1", via="passive", at=when)
        await publish(amqp, receipt.routing_key, receipt.to_bytes())
        impact = announce(
            BroadcastImpact("b1", "run1", 3, 1.5, 2.0), id="i1", tenant_id=tenant, at=when
        )
        await publish(amqp, impact.routing_key, impact.to_bytes())
        await wait_until(lambda: count(metrics, spec, "ignored") == 1, timeout=10)
        await wait_until(lambda: len(messages) == 1 and len(sent) == 1, timeout=10)
        assert messages == [original.payload]
        assert sent == [ReplySent(event_id=original.id, rule_id="r1", via="passive")]
        assert count(metrics, spec, "ack") == 2
        assert await queue_depth(amqp, spec.dead_letter_name) == 0
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_retry_later_waits_out_the_retry_delay_then_the_message_is_handled(amqp):
    tries: list[float] = []

    async def rate_limited_twice(delivery: Delivery) -> None:
        tries.append(time.monotonic())
        if len(tries) <= 2:
            raise RetryLater("WeChat's rate limit")

    consumer, spec, tenant, metrics = await start(amqp, rate_limited_twice, delivery_limit=3)
    try:
        await publish(amqp, f"{tenant}.msg.text", envelope(tenant, 0).to_bytes())
        await wait_until(lambda: len(tries) == 1, timeout=10)
        # not at once: nothing more while the message waits in the retry queue
        await stays_true(lambda: len(tries) == 1, seconds=RETRY_DELAY * 0.8, what="one try")
        await wait_until(lambda: count(metrics, spec, "ack") == 1, timeout=15)

        gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
        assert len(tries) == 3
        assert all(gap >= RETRY_DELAY * 0.9 for gap in gaps), gaps
        assert count(metrics, spec, "retry") == 2
        assert count(metrics, spec, "requeue") == 0
        assert await queue_depth(amqp, spec.retry_name) == 0
        assert await queue_depth(amqp, spec.dead_letter_name) == 0
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_retry_later_for_ever_ends_in_the_dead_letter_queue(amqp):
    tries: list[int] = []

    async def always_later(delivery: Delivery) -> None:
        tries.append(int(delivery.headers.get(RETRIES_HEADER) or 0))
        raise RetryLater("the database is away")

    consumer, spec, tenant, metrics = await start(
        amqp, always_later, delivery_limit=2, retry_delay=0.3
    )
    try:
        await publish(amqp, f"{tenant}.msg.text", envelope(tenant, 0).to_bytes())
        [dead] = await dead_letters(amqp, spec, 1)
        assert tries == [0, 1, 2]  # the first try, then delivery_limit delayed retries
        assert str(dead.headers[DEAD_LETTER_REASON]).startswith("retries_exhausted: event ev0")
        assert metrics.dead_lettered.labels(spec.name, "retries_exhausted")._value.get() == 1
        assert await queue_depth(amqp, spec.name) == 0
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_deferred_waits_out_the_delay_past_the_delivery_limit_retries_uncounted(amqp):
    tries: list[int] = []

    async def busy_four_times(delivery: Delivery) -> None:
        tries.append(int(delivery.headers.get(RETRIES_HEADER) or 0))
        if len(tries) <= 4:
            raise Deferred("as many at work as allowed")

    consumer, spec, tenant, metrics = await start(
        amqp, busy_four_times, delivery_limit=2, retry_delay=0.3
    )
    try:
        await publish(amqp, f"{tenant}.msg.text", envelope(tenant, 0).to_bytes())
        await wait_until(lambda: count(metrics, spec, "ack") == 1, timeout=15)
        assert tries == [0, 0, 0, 0, 0]  # four waits, more than the limit of 2, none counted
        assert count(metrics, spec, "deferred") == 4
        assert count(metrics, spec, "retry") == 0
        assert await queue_depth(amqp, spec.dead_letter_name) == 0
        assert await queue_depth(amqp, spec.retry_name) == 0
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_a_delivery_says_when_the_message_reached_the_process(amqp):
    seen: list[tuple[float, float]] = []

    async def handler(delivery: Delivery) -> None:
        seen.append((delivery.received, time.monotonic()))

    consumer, spec, tenant, _ = await start(amqp, handler)
    try:
        before = time.monotonic()
        await publish(amqp, f"{tenant}.msg.text", envelope(tenant, 0).to_bytes())
        await wait_until(lambda: len(seen) == 1, timeout=10)
        [(received, handled)] = seen
        assert before <= received <= handled
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


def totals(histogram: Histogram, spec: QueueSpec) -> tuple[float, float]:
    """A consumer histogram's (count, sum) for the queue."""
    found = {"count": 0.0, "sum": 0.0}
    for family in histogram.collect():
        for sample in family.samples:
            part = sample.name.removeprefix(f"{family.name}_")
            if sample.labels.get("queue") == spec.name and part in found:
                found[part] = sample.value
    return found["count"], found["sum"]


def lag(metrics: ConsumerMetrics, spec: QueueSpec) -> tuple[float, float]:
    """Events timed, and their ages summed, in seconds."""
    return totals(metrics.lag, spec)


def per_message(metrics: ConsumerMetrics, spec: QueueSpec) -> tuple[float, float]:
    """Messages of answers sent, and the answers they carried."""
    return totals(metrics.answers_per_message, spec)


async def test_the_lag_is_each_events_age_when_taken_alone_or_in_a_bundle(amqp):
    """From the envelope's received_at to the consumer taking it, for each member of a
    bundle too; an envelope whose received_at is not a time is handled, and not counted."""
    consumer, spec, tenant, metrics = await start(amqp, None, handlers=Handlers())
    try:
        now = datetime.now(UTC)
        alone = replace(envelope(tenant, 0), received_at=iso(now - timedelta(seconds=30)))
        await publish(amqp, f"{tenant}.msg.text", alone.to_bytes())
        await wait_until(lambda: lag(metrics, spec)[0] == 1, timeout=10)
        assert 30 <= lag(metrics, spec)[1] < 40
        ages = (10, 20, 300)
        members = [
            replace(envelope(tenant, n), received_at=iso(now - timedelta(seconds=age)))
            for n, age in enumerate(ages, start=1)
        ]
        await publish_bundle(amqp, spec, encode_bundle(members))
        await wait_until(lambda: lag(metrics, spec)[0] == 4, timeout=10)
        assert 360 <= lag(metrics, spec)[1] < 400
        odd = replace(envelope(tenant, 4), received_at="yesterday")
        await publish(amqp, f"{tenant}.msg.text", odd.to_bytes())
        await wait_until(lambda: count(metrics, spec, "ignored") == 5, timeout=10)
        assert lag(metrics, spec)[0] == 4
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_a_failing_message_in_a_batch_is_settled_alone_and_the_rest_acked_once(amqp):
    """Acks go in batches (``multiple=True``): the poison message among them is still
    dead-lettered alone, the failing one requeued alone, every other one acked once (an
    ack twice would close the channel and bring them all back, redelivered)."""
    seen: list[tuple[int, bool]] = []
    failed: set[int] = set()

    async def handler(delivery: Delivery) -> None:
        n = delivery.envelope.payload.fields["n"]
        seen.append((n, delivery.redelivered))
        if n == 7:
            raise Reject("poison")
        if n == 12 and n not in failed:
            failed.add(n)
            raise RuntimeError("transient")

    consumer, spec, tenant, metrics = await start(amqp, handler, delivery_limit=3, prefetch=64)
    try:
        for n in range(40):
            await publish(amqp, f"{tenant}.msg.text", envelope(tenant, n).to_bytes())
        await wait_until(lambda: count(metrics, spec, "ack") == 39, timeout=20)
        [dead] = await dead_letters(amqp, spec, 1)
        assert json.loads(dead.body)["id"] == "ev7"
        await stays_true(lambda: len(seen) == 41, seconds=0.5, what="no more deliveries")
        assert sorted(n for n, _ in seen) == sorted([*range(40), 12])
        assert [n for n, again in seen if again] == [12]  # only the requeued one came back
        assert (count(metrics, spec, "dead_letter"), count(metrics, spec, "requeue")) == (1, 1)
        await consumer.stop(5)
        assert await queue_depth(amqp, spec.name) == 0
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_no_batch_ack_passes_a_message_still_in_flight(amqp):
    """Later messages are handled and acked while the first one is still being handled
    (more of them than the prefetch: the slow one holds no acks back for long); when the
    process dies then, only the first one comes back."""
    started = asyncio.Event()
    handled: list[int] = []

    async def first_is_stuck(delivery: Delivery) -> None:
        n = delivery.envelope.payload.fields["n"]
        if n == 0:
            started.set()
            await asyncio.sleep(30)
        handled.append(n)

    connection = await aio_pika.connect(amqp.url)
    consumer, spec, tenant, metrics = await start(connection, first_is_stuck, prefetch=4)
    try:
        await publish(amqp, f"{tenant}.msg.text", envelope(tenant, 0).to_bytes())
        await asyncio.wait_for(started.wait(), 10)
        for n in range(1, 10):
            await publish(amqp, f"{tenant}.msg.text", envelope(tenant, n).to_bytes())
        await wait_until(lambda: count(metrics, spec, "ack") == 9, timeout=10)
        await stays_true(lambda: count(metrics, spec, "ack") == 9, seconds=0.3, what="acks")
        await consumer.stop(grace=0.2)  # sends the batch of 1..9; 0 is still in flight
        await connection.close()
        await wait_for_depth(amqp, spec.name, 1)
        channel = await amqp.channel()
        queue = await channel.declare_queue(spec.name, passive=True)
        back = await queue.get(no_ack=True, timeout=5)
        assert json.loads(back.body)["id"] == "ev0"
        await channel.close()
    finally:
        await delete_queue_and_twins(amqp, spec)


# --- bundles: several envelopes in one message -----------------------------------------


async def publish_bundle(amqp, spec: QueueSpec, body: bytes) -> None:
    """A bundle straight into the test's queue (the default exchange): bundles travel
    under the shared ``_bundle`` routing keys, which other tests' gateways use too."""
    channel = await amqp.channel(publisher_confirms=True)
    await channel.default_exchange.publish(
        aio_pika.Message(
            body,
            content_type=BUNDLE_CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        spec.name,
        mandatory=True,
    )
    await channel.close()


async def test_a_bundle_is_handled_member_by_member_and_acked_once(amqp):
    sent: list[ReplySent] = []

    async def on_sent(delivery: Delivery[ReplySent]) -> None:
        sent.append(delivery.envelope.payload)

    consumer, spec, tenant, metrics = await start(
        amqp, None, handlers=Handlers().on(ReplySent, on_sent)
    )
    try:
        when = datetime(2026, 1, 1, tzinfo=UTC)
        receipts = [
            reply_sent(envelope(tenant, n), rule_id=f"r{n}", via="passive", at=when)
            for n in range(5)
        ]
        await publish_bundle(amqp, spec, encode_bundle(receipts))
        await wait_until(lambda: count(metrics, spec, "ack") == 5, timeout=10)
        assert sorted(s.rule_id for s in sent) == ["r0", "r1", "r2", "r3", "r4"]
        await wait_for_depth(amqp, spec.name, 0)
        await stays_true(lambda: len(sent) == 5, seconds=0.3, what="each member handled once")
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_a_bundles_failing_members_go_alone_and_the_others_are_not_handled_again(amqp):
    attempts: dict[str, int] = {}

    async def handler(delivery: Delivery) -> None:
        event_id = delivery.envelope.id
        attempts[event_id] = attempts.get(event_id, 0) + 1
        n = delivery.envelope.payload.fields["n"]
        if n == 1:
            raise Reject("never valid")
        if n == 2 and attempts[event_id] == 1:
            raise RuntimeError("once")
        if n == 3 and attempts[event_id] == 1:
            raise RetryLater("not now")

    consumer, spec, tenant, metrics = await start(amqp, handler, delivery_limit=3)
    try:
        bundle = [envelope(tenant, n) for n in range(4)]
        await publish_bundle(amqp, spec, encode_bundle(bundle))
        await wait_until(lambda: attempts.get("ev2") == 2 and attempts.get("ev3") == 2, timeout=15)
        [dead] = await dead_letters(amqp, spec, 1)
        assert dead.content_type == "application/json"  # the member alone, not the bundle
        assert decode(dead.body) == bundle[1]
        assert str(dead.headers[DEAD_LETTER_REASON]).startswith("rejected")
        assert attempts == {"ev0": 1, "ev1": 1, "ev2": 2, "ev3": 2}
        assert count(metrics, spec, "retry") == 2
        assert count(metrics, spec, "ack") == 3  # ev0 in the bundle, ev2 and ev3 alone
        await wait_for_depth(amqp, spec.name, 0)
        assert await queue_depth(amqp, spec.retry_name) == 0
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_bytes_that_are_no_bundle_are_dead_lettered_whole(amqp):
    handled: list[str] = []

    async def handler(delivery: Delivery) -> None:
        handled.append(delivery.envelope.id)

    consumer, spec, tenant, metrics = await start(amqp, handler)
    try:
        text_and_receipt = [
            envelope(tenant, 0).to_bytes(),
            reply_sent(
                envelope(tenant, 0), rule_id="r", via="passive", at=datetime.now(UTC)
            ).to_bytes(),
        ]
        for body in (b"[]", b"{}", b"[" + b",".join(text_and_receipt) + b"]", b"\xff["):
            await publish_bundle(amqp, spec, body)
        reasons = [
            str(m.headers[DEAD_LETTER_REASON]).split(":")[0]
            for m in await dead_letters(amqp, spec, 4)
        ]
        assert reasons == ["undecodable"] * 4
        assert count(metrics, spec, "dead_letter") == 4
        assert handled == []
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_each_member_of_a_bundle_answers_its_own_ask_on_direct_reply_to(amqp):
    """The gateway's bundles of messages it waits on: the asks header gives each member
    its own correlation id and budget; a member that asked nothing has no one to answer."""
    seen: dict[int, tuple[bool, object, bool]] = {}

    async def handler(delivery: Delivery) -> None:
        n = delivery.envelope.payload.fields["n"]
        headers = delivery.headers
        seen[n] = (delivery.wants_reply, headers.get(REPLY_BUDGET_HEADER), ASKS_HEADER in headers)
        await delivery.reply(f"answer {n}".encode())

    consumer, spec, tenant, metrics = await start(amqp, handler)
    publisher = EventPublisher(queues=[], confirm_timeout=5.0)
    try:
        await publisher.setup(amqp)
        asks = [ReplyAsk("c-0", 4000, 1), None, ReplyAsk("c-2", 3000, 2)]
        answers = [publisher.expect_reply(ask.correlation_id) for ask in asks if ask]
        # under the test's own key: the shared ``_bundle`` keys are other tests' too
        await publisher.publish_raw(
            encode_bundle([envelope(tenant, n) for n in range(3)]),
            routing_key=f"{tenant}.msg.text",
            message_id="bundle:asks",
            headers={ASKS_HEADER: encode_asks(asks)},  # the publisher adds the flag
            content_type=BUNDLE_CONTENT_TYPE,
            replies=True,
        )
        async with asyncio.timeout(10):
            assert await asyncio.gather(*answers) == [b"answer 0", b"answer 2"]
        await wait_until(lambda: count(metrics, spec, "ack") == 3, timeout=10)
        assert seen == {0: (True, 4000, False), 1: (False, None, False), 2: (True, 3000, False)}
    finally:
        await publisher.close()
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


@pytest.mark.parametrize("together", [True, False])
async def test_a_bundles_answers_travel_together_to_an_asker_that_says_it_takes_them(
    amqp, together: bool
):
    """As the broker delivers them: one message of answers for the asker that says so,
    and one message per answer for an asker that does not (a gateway older than this)."""

    async def handler(delivery: Delivery) -> None:
        await delivery.reply(f"answer {delivery.envelope.payload.fields['n']}".encode())

    consumer, spec, tenant, metrics = await start(amqp, handler)
    channel = await amqp.channel(publisher_confirms=False)
    came: list[aio_pika.abc.AbstractIncomingMessage] = []
    try:

        async def answered(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            came.append(message)

        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        await replies.consume(answered, no_ack=True)
        asks = [ReplyAsk("c-0", 4000, 1), None, ReplyAsk("c-2", 3000, 2)]
        headers: dict[str, object] = {ASKS_HEADER: encode_asks(asks)}
        if together:
            headers[TOGETHER_HEADER] = True
        await channel.default_exchange.publish(
            aio_pika.Message(
                encode_bundle([envelope(tenant, n) for n in range(3)]),
                content_type=BUNDLE_CONTENT_TYPE,
                headers=headers,
                reply_to="amq.rabbitmq.reply-to",
            ),
            spec.name,
        )
        await wait_until(lambda: count(metrics, spec, "ack") == 3, timeout=10)
        await wait_until(lambda: len(came) == (1 if together else 2), timeout=10)
        await stays_true(lambda: len(came) == (1 if together else 2), seconds=0.3, what="no more")
        if together:
            [message] = came
            assert message.content_type == ANSWERS_CONTENT_TYPE
            answers = decode_answers(message.headers[ANSWERS_HEADER], message.body)
        else:
            answers = [(str(message.correlation_id), message.body) for message in came]
        assert sorted(answers) == [("c-0", b"answer 0"), ("c-2", b"answer 2")]
        assert per_message(metrics, spec) == ((1.0, 2.0) if together else (2.0, 2.0))
    finally:
        await channel.close()
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)


async def test_a_bundle_whose_asks_are_not_ours_is_handled_and_answered_to_nobody(amqp):
    handled: list[tuple[int, bool]] = []

    async def handler(delivery: Delivery) -> None:
        handled.append((delivery.envelope.payload.fields["n"], delivery.wants_reply))

    consumer, spec, tenant, metrics = await start(amqp, handler)
    try:
        channel = await amqp.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(
                encode_bundle([envelope(tenant, n) for n in range(2)]),
                content_type=BUNDLE_CONTENT_TYPE,
                headers={ASKS_HEADER: [["c-0", 1000, 1]]},  # one ask for two members
                reply_to="amq.rabbitmq.reply-to.nobody",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            spec.name,
            mandatory=True,
        )
        await channel.close()
        await wait_until(lambda: count(metrics, spec, "ack") == 2, timeout=10)
        assert sorted(handled) == [(0, False), (1, False)]
    finally:
        await consumer.stop(1)
        await delete_queue_and_twins(amqp, spec)
