"""How fast the consumer frame drains a full queue: ``python -m tests.bench.consumer``.

Fills a queue of its own (the tests' virtual host) with realistic envelopes of one
tenant (readers' texts, VIEW, CLICK, subscribe and LOCATION events, reply receipts), then
runs the real :class:`~shared.platform.consumer.Consumer` over it, with the real tenant
directory over the tests' FerretDB, until every envelope is handled and acked:

* ``ack-only``: the handler does nothing (the frame's own cost), at analytics' prefetch
  and at the other services' default of 32;
* ``analytics-shaped``: the handler reads a few fields and counts them, as analytics will.

Each row says envelopes/s and the process's CPU per envelope while draining. The queue,
its twins and the bench tenant are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aio_pika
import uvloop
from prometheus_client import CollectorRegistry

from services.analytics.settings import PREFETCH  # analytics' own
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplySent
from shared.contracts.topology import QueueSpec, declare_queue
from shared.platform.consumer import Consumer
from shared.platform.delivery import Delivery, Handlers
from shared.platform.directory import TenantDirectory
from shared.platform.metrics import ConsumerMetrics
from shared.platform.storage import CONTROL_DB, mongo_client
from tests.support.bus import delete_queue_and_twins
from tests.support.infra import amqp_url, mongodb_url

ENVELOPES = 20_000
DEFAULT_PREFETCH = 32  # the other consumer services' (WXP_PREFETCH)
Row = dict[str, float | str]


def envelopes(tenant: str, count: int) -> list[Envelope[WeChatMessage] | Envelope[ReplySent]]:
    """A realistic mix: half readers' texts, the rest events and reply receipts."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made: list[Envelope[WeChatMessage] | Envelope[ReplySent]] = []
    for n in range(count):
        at = iso(start + timedelta(seconds=n))
        openid = f"o{n % 997:06d}"
        kind, fields = MIX[n % len(MIX)]
        if kind == "reply.sent":
            receipt = ReplySent(event_id=f"e{n - 1}", rule_id="r1", via="passive")
            made.append(Envelope(f"s{n}", tenant, kind, at, at, openid, receipt))
            continue
        payload = WeChatMessage("gh_bench", {**fields, "msg_id": str(n), "create_time": str(n)})
        made.append(Envelope(f"e{n}", tenant, kind, at, at, openid, payload))
    return made


MIX: list[tuple[str, dict[str, str]]] = [
    ("msg.text", {"content": "what is the price of the blue one?"}),
    ("event.view", {"event_key": "https://shop.example.com/items/42", "menu_id": "7"}),
    ("msg.text", {"content": "hello"}),
    ("event.click", {"event_key": "MENU_HELP"}),
    ("msg.text", {"content": "opening hours"}),
    ("event.subscribe", {"event_key": "qrscene_spring", "scene": "spring"}),
    ("reply.sent", {}),
    ("event.location", {"latitude": "23.1", "longitude": "113.3", "precision": "65.0"}),
]


async def fill(
    connection: aio_pika.abc.AbstractConnection, spec: QueueSpec, bodies: list[bytes]
) -> None:
    """Puts ``bodies`` on the queue, persistent and confirmed, a window at a time."""
    channel = await connection.channel(publisher_confirms=True)
    await declare_queue(channel, spec)
    exchange = channel.default_exchange
    for first in range(0, len(bodies), 1_000):
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    spec.name,
                )
                for body in bodies[first : first + 1_000]
            )
        )
    await channel.close()


async def ack_only(delivery: Delivery[WeChatMessage] | Delivery[ReplySent]) -> None:
    return None


def analytics_shaped() -> Callable[
    [Delivery[WeChatMessage] | Delivery[ReplySent]], Awaitable[None]
]:
    """Reads the fields analytics counts by and counts them in memory."""
    counts: Counter[tuple[str, str, str]] = Counter()

    async def handle(delivery: Delivery[WeChatMessage] | Delivery[ReplySent]) -> None:
        event = delivery.envelope
        payload = event.payload
        key = payload.rule_id if isinstance(payload, ReplySent) else payload.account
        counts[(event.tenant_id, event.type, key)] += 1
        if event.openid and event.occurred_at:
            counts[(event.tenant_id, "reader", event.openid)] += 1

    return handle


async def run_scenario(
    name: str,
    handler: Callable[[Delivery[WeChatMessage] | Delivery[ReplySent]], Awaitable[None]],
    *,
    count: int = ENVELOPES,
    prefetch: int = PREFETCH,
) -> Row:
    tenant = f"bench{secrets.token_hex(4)}"
    spec = QueueSpec(f"bench.consumer.{tenant}", ())
    mongo = mongo_client(mongodb_url(), app_name="wxp-bench-consumer")
    tenants = mongo[CONTROL_DB].tenants
    await tenants.insert_one({"_id": tenant, "timezone": "Asia/Shanghai", "bench": True})
    connection = await aio_pika.connect(amqp_url())
    handled = 0
    drained = asyncio.Event()

    async def counting(delivery: Delivery[WeChatMessage] | Delivery[ReplySent]) -> None:
        nonlocal handled
        await handler(delivery)
        handled += 1
        if handled == count:
            drained.set()

    try:
        await fill(connection, spec, [e.to_bytes() for e in envelopes(tenant, count)])
        handlers = Handlers().on(WeChatMessage, counting).on(ReplySent, counting)
        consumer = Consumer(
            spec,
            handlers,
            metrics=ConsumerMetrics.create(CollectorRegistry()),
            prefetch=prefetch,
            tenant_exists=TenantDirectory(mongo).exists,
        )
        cpu, started = time.process_time(), time.perf_counter()
        await consumer.setup(connection)
        await asyncio.wait_for(drained.wait(), 300)
        await consumer.stop(10)  # the last acks are out
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        left = await left_in(connection, spec)
        if left:
            raise SystemExit(f"{name}: {left} envelopes still in the queue after draining")
    finally:
        await delete_queue_and_twins(connection, spec)
        await connection.close()
        await tenants.delete_one({"_id": tenant})
        await mongo.close()
    return {
        "scenario": f"consumer, {name}, prefetch {prefetch}",
        "envelopes": count,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds),
        "cpu_ms_per_envelope": round(cpu * 1000 / count, 4),
    }


async def left_in(connection: aio_pika.abc.AbstractConnection, spec: QueueSpec) -> int:
    """Messages ready or unacked in the queue (the broker counts both once acks land)."""
    channel = await connection.channel()
    for _ in range(50):
        queue = await channel.declare_queue(spec.name, passive=True)
        if not queue.declaration_result.message_count:
            break
        await asyncio.sleep(0.1)
    await channel.close()
    return int(queue.declaration_result.message_count or 0)


async def consumer_scenarios() -> list[Row]:
    """One row per handler shape: envelopes/s and CPU per envelope, draining a full queue."""
    return [
        await run_scenario("ack-only", ack_only),
        await run_scenario("analytics-shaped", analytics_shaped()),
        await run_scenario("ack-only", ack_only, prefetch=DEFAULT_PREFETCH),
    ]


def main() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        rows = runner.run(consumer_scenarios())
    for row in rows:
        print(
            f"{row['scenario']}: {row['envelopes']:,} envelopes in {row['seconds']:.2f}s: "
            f"{row['per_second']:,} envelopes/s, {row['cpu_ms_per_envelope']:.3f} ms CPU each"
        )


if __name__ == "__main__":
    main()
