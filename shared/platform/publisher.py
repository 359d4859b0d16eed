"""Publishing events: persistent, confirmed, ``mandatory``; and, for the gateway, RabbitMQ's
direct reply-to on the same channel.

Direct reply-to needs the publisher to consume ``amq.rabbitmq.reply-to`` on the channel it
publishes from; replies arrive there keyed by correlation id and resolve the future the
webhook handler awaits. Services that only publish pass ``direct_replies=False``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
)
from aiormq.abc import DeliveredMessage

from shared.contracts.envelope import Envelope
from shared.contracts.topology import QueueSpec, declare_exchanges, declare_queue
from shared.platform.bus import BrokerUnavailable

logger = logging.getLogger(__name__)


class ConfirmPending(BrokerUnavailable):
    """The broker did not confirm in time, but the publish is still alive: ``confirm``
    ends when the broker confirms (or with the error that says it will not). Whoever
    catches this must await ``confirm``: treating the event as unpublished and sending
    it again would put it on the bus twice whenever a confirm is merely slow."""

    def __init__(self, message_id: str, confirm: asyncio.Future[None]) -> None:
        super().__init__(f"publish of {message_id} not confirmed yet")
        self.confirm = confirm
        confirm.add_done_callback(_retrieved)  # its error is read by whoever awaits it, if anyone


REPLY_TO = "amq.rabbitmq.reply-to"
PERSISTENT = 2  # delivery mode
Properties = aiormq.spec.Basic.Properties
PUBLISH_ERRORS = (aio_pika.exceptions.AMQPError, OSError, TimeoutError, RuntimeError)


class EventPublisher:
    def __init__(
        self, *, queues: list[QueueSpec], confirm_timeout: float, direct_replies: bool = True
    ) -> None:
        self._queues = queues
        self._direct_replies = direct_replies
        self._confirm_timeout = confirm_timeout
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._raw: aiormq.abc.AbstractChannel | None = None  # the channel's own aiormq one
        self._waiters: dict[str, asyncio.Future[bytes]] = {}

    async def setup(self, connection: AbstractConnection) -> None:
        """Broker on-connect step: declare the topology, open the publishing channel."""
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        raw = await channel.get_underlay_channel()
        for spec in self._queues:
            await declare_queue(channel, spec)  # so no event is unroutable while a consumer is away
        exchange = await declare_exchanges(channel)
        if self._direct_replies:  # read straight off aiormq, as the consumer frame does
            await raw.basic_consume(REPLY_TO, self._on_reply, no_ack=True)
        self._channel, self._exchange, self._raw = channel, exchange, raw

    async def publish(
        self,
        envelope: Envelope[Any],
        *,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """Publishes persistently and waits for the broker's confirm; raises BrokerUnavailable."""
        await self.publish_raw(
            envelope.to_bytes(),
            routing_key=envelope.routing_key,
            message_id=envelope.id,
            headers=headers,
            correlation_id=correlation_id,
        )

    async def publish_raw(
        self,
        body: bytes,
        *,
        routing_key: str,
        message_id: str,
        headers: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        confirm_timeout: float | None = None,
    ) -> None:
        exchange, channel, raw = self._exchange, self._channel, self._raw
        if exchange is None or channel is None or raw is None or channel.is_closed:
            raise BrokerUnavailable("no broker channel")
        properties = Properties(
            message_id=message_id,
            content_type="application/json",
            delivery_mode=PERSISTENT,
            headers=dict(headers) if headers else None,
            correlation_id=correlation_id,
            reply_to=REPLY_TO if correlation_id else None,
        )
        publish = _confirmed(raw, exchange.name, body, routing_key, properties)
        confirm = asyncio.ensure_future(publish)
        # asyncio.wait, not wait_for(shield(...)): the same outcome (the publish goes on
        # when the wait ends or is cancelled) for one future fewer per publish.
        done, _ = await asyncio.wait((confirm,), timeout=confirm_timeout or self._confirm_timeout)
        if not done:
            raise ConfirmPending(message_id, confirm)
        confirm.result()  # raises BrokerUnavailable when the broker did not take it

    def expect_reply(self, correlation_id: str) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiters[correlation_id] = future
        return future

    def forget(self, correlation_id: str) -> None:
        self._waiters.pop(correlation_id, None)

    async def _on_reply(self, message: DeliveredMessage) -> None:
        correlation_id = message.header.properties.correlation_id
        future = self._waiters.pop(correlation_id or "", None)
        if future is None or future.done():
            logger.info("late or unknown reply %s dropped", correlation_id)
            return
        future.set_result(message.body)

    async def close(self) -> None:
        channel, self._channel, self._exchange, self._raw = self._channel, None, None, None
        if channel is not None and not channel.is_closed:
            await channel.close()


async def _confirmed(
    channel: aiormq.abc.AbstractChannel,
    exchange: str,
    body: bytes,
    routing_key: str,
    properties: Properties,
) -> None:
    """One publish until its confirm, with no timeout of its own: the caller bounds its wait,
    and a late confirm still counts (see ConfirmPending). Straight through aiormq, the
    layer under aio-pika: its ``Message`` costs the gateway more per event than the frames
    themselves (README, benchmarks); the channel (confirms, returns raised) is aio-pika's."""
    try:
        await channel.basic_publish(
            body, exchange=exchange, routing_key=routing_key, properties=properties, mandatory=True
        )
    except PUBLISH_ERRORS as exc:
        raise BrokerUnavailable(
            f"publish of {properties.message_id} not confirmed: {exc!r}"
        ) from exc


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
