"""Consuming a service's queue with one failure policy for every service.

The handler gets a typed :class:`Delivery`. Events of a tenant that no longer exists are
acked and dropped before the handler sees them. It returns normally: the message is acked
(the work is stored). It raises :class:`Reject`: the message is dead-lettered now. It
raises anything else: the message is returned to the queue, and the quorum queue's
delivery limit dead-letters it after a bounded number of tries. Bytes that are not an
envelope are dead-lettered at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from shared.envelope import Envelope, EnvelopeError
from shared.metrics import ConsumerMetrics
from shared.topology import QueueSpec, declare_queue

logger = logging.getLogger(__name__)


class Reject(Exception):
    """The message can never be handled: dead-letter it without retrying."""


@dataclass(slots=True)
class Delivery:
    envelope: Envelope
    headers: dict[str, Any]
    reply_to: str | None
    correlation_id: str | None
    redelivered: bool
    _channel: AbstractChannel = field(repr=False)

    async def reply(self, body: bytes, headers: dict[str, Any] | None = None) -> None:
        """Answers on the publisher's direct reply-to (fire and forget, no mandatory)."""
        if not self.reply_to:
            return
        message = aio_pika.Message(
            body,
            correlation_id=self.correlation_id,
            headers=headers or {},
            content_type="application/json",
        )
        await self._channel.default_exchange.publish(message, self.reply_to, mandatory=False)


Handler = Callable[[Delivery], Awaitable[None]]


class Consumer:
    def __init__(
        self,
        spec: QueueSpec,
        handler: Handler,
        *,
        metrics: ConsumerMetrics,
        prefetch: int = 32,
        tenant_exists: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.spec = spec
        self._tenant_exists = tenant_exists
        self._handler = handler
        self._metrics = metrics
        self._prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def setup(self, connection: AbstractConnection) -> None:
        """Broker on-connect step: channel, topology, consume."""
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        self._channel = channel
        self._queue = await declare_queue(channel, self.spec)
        self._tag = await self._queue.consume(self._on_message)

    async def stop(self, grace: float) -> None:
        """Stops taking messages and waits (up to ``grace``) for those in flight."""
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except (aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
                logger.info("cancel consumer on %s: %s", self.spec.name, exc)
        self._tag = None
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            logger.warning(
                "%d messages still in flight on %s at shutdown", self._inflight, self.spec.name
            )

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._inflight += 1
        self._idle.clear()
        started = time.perf_counter()
        try:
            outcome = await self._handle(message)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()
        self._metrics.messages.labels(self.spec.name, outcome).inc()
        self._metrics.latency.labels(self.spec.name).observe(time.perf_counter() - started)

    async def _handle(self, message: AbstractIncomingMessage) -> str:
        assert self._channel is not None, "messages arrive only after setup"
        try:
            envelope = Envelope.from_bytes(message.body)
        except EnvelopeError as exc:
            logger.error("dead-lettering a non-envelope on %s: %s", self.spec.name, exc)
            await message.reject(requeue=False)
            return "dead_letter"
        if self._tenant_exists is not None and not await self._tenant_exists(envelope.tenant_id):
            logger.info("dropping event %s of deleted tenant %s", envelope.id, envelope.tenant_id)
            await message.ack()
            return "dropped"
        delivery = Delivery(
            envelope=envelope,
            headers=dict(message.headers or {}),
            reply_to=message.reply_to,
            correlation_id=message.correlation_id,
            redelivered=bool(message.redelivered),
            _channel=self._channel,
        )
        try:
            await self._handler(delivery)
        except Reject as exc:
            logger.error("dead-lettering event %s on %s: %s", envelope.id, self.spec.name, exc)
            await message.reject(requeue=False)
            return "dead_letter"
        except Exception:
            logger.exception(
                "event %s failed on %s; returning it to the queue", envelope.id, self.spec.name
            )
            await message.nack(requeue=True)
            return "requeue"
        await message.ack()
        return "ack"
