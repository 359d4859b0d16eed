"""Where a message goes when its handler does not finish it: the dead-letter queue now, or
the retry queue for later. Each is a confirmed publish of a copy, then an ack of the
original; a copy the broker does not confirm sends the original back to its queue."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel

from shared.contracts.topology import DEAD_LETTER_EXCHANGE, QueueSpec
from shared.platform.delivery import DEAD_LETTER_REASON, RETRIES_HEADER, Received
from shared.platform.metrics import ConsumerMetrics

logger = logging.getLogger(__name__)


def dead_letter_copy(message: Received, reason: str) -> aio_pika.Message:
    """``message`` as the DLQ keeps it, saying why in ``x-wxp-dead-letter-reason``."""
    return _copy(message, {DEAD_LETTER_REASON: reason})


def retries_of(message: Received) -> int:
    """How many delayed retries ``message`` has had (0 for a first delivery)."""
    count = message.headers.get(RETRIES_HEADER)
    return count if type(count) is int and count > 0 else 0


def retry_copy(message: Received) -> aio_pika.Message:
    """``message`` as the retry queue keeps it, one more delayed retry counted."""
    return _copy(message, {RETRIES_HEADER: retries_of(message) + 1})


def _copy(message: Received, headers: Mapping[str, Any]) -> aio_pika.Message:
    return aio_pika.Message(
        message.body,
        headers={**message.headers, **headers},
        message_id=message.message_id,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


class Detours:
    """The dead-letter and retry paths of one queue, over a confirming channel."""

    def __init__(self, spec: QueueSpec, metrics: ConsumerMetrics) -> None:
        self.spec = spec
        self._metrics = metrics
        self.channel: AbstractChannel | None = None  # set on every (re)connect

    async def retry_later(self, message: Received, why: str) -> str:
        """Into the retry queue, back after its delay; dead-lettered once the queue's
        ``delivery_limit`` retries are spent."""
        if retries_of(message) >= self.spec.delivery_limit:
            return await self.dead_letter(message, "retries_exhausted", why)
        logger.info("%s on %s: again in %.0fs", why[:300], self.spec.name, self.spec.retry_delay)
        return await self._move(message, "", self.spec.retry_name, retry_copy(message), "retry")

    async def defer(self, message: Received, why: str) -> str:
        """Into the retry queue, back after its delay, its retries as they were."""
        logger.info("%s on %s: deferred %.0fs", why[:300], self.spec.name, self.spec.retry_delay)
        return await self._move(message, "", self.spec.retry_name, _copy(message, {}), "deferred")

    async def dead_letter(self, message: Received, reason: str, why: str) -> str:
        """To the queue's DLQ now, saying why; if that publish is not confirmed, the message
        goes back to the queue and its delivery limit dead-letters it later."""
        logger.error("dead-lettering a message on %s (%s): %s", self.spec.name, reason, why[:300])
        self._metrics.dead_lettered.labels(self.spec.name, reason).inc()
        copy = dead_letter_copy(message, f"{reason}: {why[:300]}")
        return await self._move(message, DEAD_LETTER_EXCHANGE, self.spec.name, copy, "dead_letter")

    async def _move(
        self,
        message: Received,
        exchange_name: str,
        routing_key: str,
        copy: aio_pika.Message,
        outcome: str,
    ) -> str:
        channel = self.channel
        try:
            if channel is None or channel.is_closed:
                raise aio_pika.exceptions.ChannelInvalidStateError("no publishing channel")
            exchange = await channel.get_exchange(exchange_name, ensure=False)
            await exchange.publish(copy, routing_key, mandatory=True, timeout=5)
        except (aio_pika.exceptions.AMQPError, OSError, TimeoutError, RuntimeError) as exc:
            logger.warning("publish to %s failed (%s); returning the message", routing_key, exc)
            await message.nack(requeue=True)
            return "requeue"
        await message.ack()
        return outcome
