"""What reached the bus, counted by envelope id, through broker restarts.

The tap's queue is durable (a quorum queue, like the services'), bound to the run's
tenants' keys and to every bundle, whose members of those tenants it counts (but for the
``reply.sent`` receipts, which travel bundled and were never counted), opened before the
traffic, so that what is published while the tap is disconnected waits for it. The tap
acks what it has recorded; after a reconnect the broker redelivers what was not acked,
flagged ``redelivered``. A redelivered copy of an id already recorded is the tap's own
echo, not a second publish, and is not counted (it is reported, though).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from shared.contracts.bundle import BUNDLE_CONTENT_TYPE, BUNDLE_TENANT, decode_bundle
from shared.contracts.codec import DecodeError
from shared.contracts.payloads import decode
from shared.contracts.reply_events import ReplySent
from shared.contracts.topology import declare_exchanges
from shared.platform.bus import connect
from tests.support.bus import topic_match

logger = logging.getLogger(__name__)


@dataclass
class BusRecord:
    url: str
    queue: str
    keys: list[str]
    copies: Counter[str] = field(default_factory=Counter)
    types: dict[str, str] = field(default_factory=dict)
    echoes: int = 0  # redeliveries to the tap of what it had recorded
    undecodable: int = 0
    reconnects: int = 0
    last_arrival: float = 0.0
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @property
    def total(self) -> int:
        return sum(self.copies.values())

    async def start(self) -> None:
        """Declares the queue and starts consuming; keeps reconnecting until ``stop``."""
        self._task = asyncio.ensure_future(self._run())
        async with asyncio.timeout(15):
            await self._ready.wait()

    async def _run(self) -> None:
        while True:
            try:
                connection = await connect(self.url, timeout=5)
            except (OSError, aio_pika.exceptions.AMQPError, TimeoutError):
                await asyncio.sleep(0.5)
                continue
            closed = asyncio.Event()
            connection.close_callbacks.add(lambda *_, done=closed: done.set())
            try:
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=1000)
                exchange = await declare_exchanges(channel)
                queue = await channel.declare_queue(
                    self.queue, durable=True, arguments={"x-queue-type": "quorum"}
                )
                for key in (*self.keys, f"{BUNDLE_TENANT}.#"):
                    await queue.bind(exchange, routing_key=key)
                await queue.consume(self._on_message)
                self._ready.set()
                await closed.wait()
            except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
                logger.info("tap connection lost: %s", exc)
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()
            self.reconnects += 1
            await asyncio.sleep(0.5)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.last_arrival = time.monotonic()
        try:
            if message.content_type == BUNDLE_CONTENT_TYPE:
                envelopes = [
                    member
                    for member in decode_bundle(message.body)
                    if member.type != ReplySent.TYPE  # bundled receipts: never counted
                    and any(topic_match(key, member.routing_key) for key in self.keys)
                ]
            else:
                envelopes = [decode(message.body)]
        except DecodeError:
            self.undecodable += 1
        else:
            for envelope in envelopes:
                if message.redelivered and envelope.id in self.copies:
                    self.echoes += 1
                else:
                    self.copies[envelope.id] += 1
                    self.types[envelope.id] = envelope.type
        with contextlib.suppress(Exception):  # unacked: redelivered later, and recognised
            await message.ack()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        connection = await aio_pika.connect(self.url, timeout=5)
        try:
            channel = await connection.channel()
            await channel.queue_delete(self.queue)
        finally:
            await connection.close()
