"""What a consumer service's handlers see and how they are registered: a typed
:class:`Delivery` per message, and :class:`Handlers`, one per payload class."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.contracts.envelope import Envelope
from shared.contracts.payloads import Payload

P = TypeVar("P", bound=Payload)
Respond = Callable[[bytes], Awaitable[None]]
DEAD_LETTER_REASON = "x-wxp-dead-letter-reason"
RETRIES_HEADER = "x-wxp-retries"  # delayed retries so far (the retry queue's own count)


class Reject(Exception):
    """The message can never be handled: dead-letter it without retrying."""


class RetryLater(Exception):
    """Not now (a rate limit, a database away, someone else holds the work): the message
    waits out the queue's retry delay, then comes back; the delivery limit bounds this."""


@dataclass(frozen=True, slots=True)
class Delivery(Generic[P]):
    """One decoded message as a handler sees it."""

    envelope: Envelope[P]
    headers: Mapping[str, object] = field(default_factory=dict)
    redelivered: bool = False
    respond: Respond | None = field(default=None, repr=False)  # None: nobody waits for a reply
    received: float = field(default_factory=time.monotonic)  # when it reached this process

    @property
    def wants_reply(self) -> bool:
        return self.respond is not None

    async def reply(self, body: bytes) -> None:
        """Answers on the publisher's direct reply-to (fire and forget)."""
        if self.respond is not None:
            await self.respond(body)


Handler = Callable[[Delivery[Any]], Awaitable[None]]


class Handlers:
    """``{payload class: handler}``, each pair type-checked where it is registered."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], Handler] = {}

    def on(self, payload: type[P], handler: Callable[[Delivery[P]], Awaitable[None]]) -> Handlers:
        self._by_type[payload] = handler
        return self

    def for_payload(self, payload: Payload) -> Handler | None:
        return self._by_type.get(type(payload))


def delivery_of(
    message: AbstractIncomingMessage,
    envelope: Envelope[Any],
    channel: AbstractChannel | None,
    *,
    received: float,
) -> Delivery[Any]:
    """The handler's view of ``message``, which reached the process at ``received``
    (monotonic): it may answer on direct reply-to through ``channel`` (fire and forget, no
    ``mandatory``) when the publisher asked for a reply."""
    respond: Respond | None = None
    reply_to, correlation_id = message.reply_to, message.correlation_id
    if reply_to and channel is not None:

        async def respond(body: bytes) -> None:
            reply = aio_pika.Message(
                body, correlation_id=correlation_id, content_type="application/json"
            )
            await channel.default_exchange.publish(reply, reply_to, mandatory=False)

    return Delivery(
        envelope=envelope,
        headers=dict(message.headers or {}),
        redelivered=bool(message.redelivered),
        respond=respond,
        received=received,
    )
