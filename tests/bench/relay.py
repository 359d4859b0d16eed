"""How fast the outbox drains after a broker outage: ``python -m tests.bench.relay``.

Keeps 1,000 events in an outbox of its own (real FerretDB), then times one relay pass
publishing them with confirms to the real RabbitMQ (queues of its own, deleted after),
and prints events/s. The relay must drain faster than a busy gateway keeps events, or a
backlog would never end.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from datetime import timedelta

import aio_pika
from prometheus_client import CollectorRegistry

from services.gateway.dispatch import Backlog
from services.gateway.metrics import GatewayMetrics
from services.gateway.outbox import Collections, Outbox
from services.gateway.relay import Relay
from shared.contracts.topology import service_queues
from shared.platform.bus import Broker
from shared.platform.publisher import EventPublisher
from shared.platform.storage import CONTROL_DB, mongo_client
from tests.support.bus import wait_until
from tests.support.fakes import message
from tests.support.infra import amqp_url, mongodb_url

EVENTS = 1_000


async def purge() -> int:
    return 0


async def drain() -> float:
    mongo = mongo_client(mongodb_url(), app_name="wxp-bench-relay")
    name = f"bench_outbox_{secrets.token_hex(3)}"
    db = mongo[CONTROL_DB]
    collections = Collections(db[name], db[f"{name}_claims"], mongo[f"{name}_notes"])
    outbox = Outbox(collections, replica="bench", claim_for=timedelta(seconds=45))
    prefix = f"bench{secrets.token_hex(3)}"
    queues = list(service_queues(prefix).values())
    publisher = EventPublisher(queues=queues, confirm_timeout=5.0, direct_replies=False)
    broker = Broker(amqp_url(), name="wxp-bench-relay", on_connect=[publisher.setup])
    connecting = asyncio.create_task(broker.run())
    try:
        for n in range(EVENTS):
            await outbox.keep(message(f"bench-{n:05d}", tenant="benchrelay"))
        await wait_until(lambda: broker.connected, 30, what="the broker connected")
        relay = Relay(
            outbox=outbox,
            publisher=publisher,
            backlog=Backlog(active=True),
            metrics=GatewayMetrics.create(CollectorRegistry()),
            connected=lambda: broker.connected,
            purge=purge,
            interval=60.0,
        )
        started = time.perf_counter()
        await relay.run_pass()
        took = time.perf_counter() - started
        if await outbox.kept(1):
            raise SystemExit("the relay pass stopped before the outbox was empty")
        return took
    finally:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        await delete_queues(
            [name for q in queues for name in (q.name, q.dead_letter_name, q.retry_name)]
        )
        for collection in (collections.outbox, collections.claims):
            await collection.drop()
        await mongo.drop_database(collections.notes.name)
        await mongo.close()


async def delete_queues(names: list[str]) -> None:
    connection = await aio_pika.connect(amqp_url())
    async with connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)


def main() -> None:
    took = asyncio.run(drain())
    print(f"relay: {EVENTS} kept events published in {took:.2f}s: {EVENTS / took:,.0f} events/s")


if __name__ == "__main__":
    main()
