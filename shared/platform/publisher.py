"""Publishing events: persistent, confirmed, ``mandatory``, over a link of the publisher's
own (``amqp_link.py``); and, for the gateway, RabbitMQ's direct reply-to on the same link.

Direct reply-to needs the publisher to consume ``amq.rabbitmq.reply-to`` on the channel it
publishes from; replies arrive there keyed by correlation id and resolve the future the
webhook handler awaits. A message that asks says the answers may come together
(``shared/contracts/bundle.py``), and a message of answers resolves each of its own.
Services that only publish pass ``direct_replies=False``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aio_pika.abc import AbstractConnection
from pamqp.commands import Basic

from shared.contracts.bundle import (
    ANSWERS_CONTENT_TYPE,
    ANSWERS_HEADER,
    ASKS_HEADER,
    BUNDLE_CONTENT_TYPE,
    TOGETHER_HEADER,
    ReplyAsk,
    bundle_id,
    bundle_routing_key,
    decode_answers,
    encode_asks,
    encode_bundle,
)
from shared.contracts.codec import DecodeError
from shared.contracts.envelope import Envelope
from shared.contracts.topology import QueueSpec, declare_exchanges, declare_queue
from shared.platform.amqp_link import AmqpLink, link_beside
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
Properties = Basic.Properties


class EventPublisher:
    def __init__(
        self, *, queues: list[QueueSpec], confirm_timeout: float, direct_replies: bool = True
    ) -> None:
        self._queues = queues
        self._direct_replies = direct_replies
        self._confirm_timeout = confirm_timeout
        self._link: AmqpLink | None = None
        self._exchange = ""
        self._waiters: dict[str, asyncio.Future[bytes]] = {}

    async def setup(self, connection: AbstractConnection) -> None:
        """Broker on-connect step: declare the topology on ``connection``, then open the
        publishing link of its own (``amqp_link.py``), confirming, beside it."""
        channel = await connection.channel()
        for spec in self._queues:
            await declare_queue(channel, spec)  # so no event is unroutable while a consumer is away
        self._exchange = (await declare_exchanges(channel)).name
        await channel.close()
        await self.close()  # the last connection's link
        link = await link_beside(connection, role="publishing", confirms=True)
        if self._direct_replies:
            await link.consume(REPLY_TO, self._on_reply, no_ack=True)
        self._link = link

    async def publish(
        self,
        envelope: Envelope[Any],
        *,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """Publishes persistently and waits for the broker's confirm; raises BrokerUnavailable.
        With a ``correlation_id``, the answer comes to this link's direct reply-to."""
        await self.publish_raw(
            envelope.to_bytes(),
            routing_key=envelope.routing_key,
            message_id=envelope.id,
            headers=headers,
            correlation_id=correlation_id,
        )

    async def publish_bundle(
        self, members: Sequence[Envelope[Any]], asks: Sequence[ReplyAsk | None] = ()
    ) -> None:
        """Publishes envelopes of one type as one message (``shared/contracts/bundle.py``)
        and waits for the broker's confirm; raises BrokerUnavailable (ConfirmPending).
        ``asks``: one per member (None: no reply asked), or none at all."""
        asking = any(ask is not None for ask in asks)
        await self.publish_raw(
            encode_bundle(members),
            routing_key=bundle_routing_key(members[0].type),
            message_id=bundle_id(members),
            content_type=BUNDLE_CONTENT_TYPE,
            headers={ASKS_HEADER: encode_asks(asks)} if asking else None,
            replies=asking,
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
        content_type: str = "application/json",
        replies: bool = False,
    ) -> None:
        """``mandatory``: a message no queue takes is refused (BrokerUnavailable), as one
        the broker nacks. A confirm later than the timeout raises ConfirmPending. Replies
        come to this link's direct reply-to when a ``correlation_id`` is given or
        ``replies`` says so (a bundle's asks carry the ids); such a message says they may
        come together."""
        link = self._link
        if link is None or not link.is_open:
            raise BrokerUnavailable("no broker link")
        asking = bool(correlation_id or replies)
        sent_headers = dict(headers) if headers else {}
        if asking:
            sent_headers[TOGETHER_HEADER] = True
        properties = Properties(
            message_id=message_id,
            content_type=content_type,
            delivery_mode=PERSISTENT,
            headers=sent_headers or None,
            correlation_id=correlation_id,
            reply_to=REPLY_TO if asking else None,
        )
        confirm = link.publish(
            body,
            exchange=self._exchange,
            routing_key=routing_key,
            properties=properties,
            mandatory=True,
        )
        assert confirm is not None  # the link confirms
        # asyncio.wait, not wait_for(shield(...)): the same outcome (the confirm still
        # counts when the wait ends) for one future fewer per publish.
        try:
            done, _ = await asyncio.wait(
                (confirm,), timeout=confirm_timeout or self._confirm_timeout
            )
        except asyncio.CancelledError:
            confirm.add_done_callback(_retrieved)  # nobody reads its outcome now
            raise
        if not done:
            raise ConfirmPending(message_id, confirm)
        confirm.result()  # raises BrokerUnavailable (LinkClosed, NotPublished) if not taken

    def expect_reply(self, correlation_id: str) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiters[correlation_id] = future
        return future

    def forget(self, correlation_id: str) -> None:
        self._waiters.pop(correlation_id, None)

    def _on_reply(self, _tag: int, _again: bool, properties: Properties, body: bytes) -> None:
        if properties.content_type != ANSWERS_CONTENT_TYPE:
            self._answered(properties.correlation_id, body)
            return
        try:
            answers = decode_answers((properties.headers or {}).get(ANSWERS_HEADER), body)
        except DecodeError as exc:  # each asker falls back when its wait ends
            logger.warning("answers dropped: %s", exc)
            return
        for correlation_id, answer in answers:
            self._answered(correlation_id, answer)

    def _answered(self, correlation_id: str | None, body: bytes) -> None:
        future = self._waiters.pop(correlation_id or "", None)
        if future is None or future.done():
            logger.info("late or unknown reply %s dropped", correlation_id)
            return
        future.set_result(body)

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close()


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
