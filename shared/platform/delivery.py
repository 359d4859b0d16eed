"""What a consumer service's handlers see and how they are registered: a typed
:class:`Delivery` per message, and :class:`Handlers`, one per payload class; and
:class:`Received`, a message as the frame takes it off the broker."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pamqp.commands import Basic

from shared.contracts.bundle import ASKS_HEADER, TOGETHER_HEADER, ask_of
from shared.contracts.envelope import Envelope
from shared.contracts.payloads import Payload
from shared.platform.amqp_link import AmqpLink, LinkClosed
from shared.platform.answers import TurnAnswers

logger = logging.getLogger(__name__)
P = TypeVar("P", bound=Payload)
Respond = Callable[[bytes], Awaitable[None]]
DEAD_LETTER_REASON = "x-wxp-dead-letter-reason"
RETRIES_HEADER = "x-wxp-retries"  # delayed retries so far (the retry queue's own count)
Properties = Basic.Properties


class Reject(Exception):
    """The message can never be handled: dead-letter it without retrying."""


class RetryLater(Exception):
    """Not now (a rate limit, a database away, someone else holds the work): the message
    waits out the queue's retry delay, then comes back; the delivery limit bounds this."""


class Deferred(RetryLater):
    """Not yet: the service already does as much of this work at once as it allows. The
    message waits out the retry delay like any RetryLater, but the wait does not count
    toward the delivery limit: nothing failed, its turn has not come."""


class Received:
    """A message as the consumer's link delivered it (``amqp_link.py``): its body, its
    tag and the properties the frame reads. Its ack or nack on a link that is gone is
    dropped: the broker gives such a message to the next consumer anyway. Its answer goes
    through the link's ``answers`` (``answers.py``)."""

    __slots__ = ("_answers", "_body", "_link", "_properties", "delivery_tag", "redelivered")

    def __init__(
        self,
        link: AmqpLink,
        delivery_tag: int,
        redelivered: bool,
        properties: Properties,
        body: bytes,
        answers: TurnAnswers,
    ) -> None:
        self._link = link
        self._answers = answers
        self._properties = properties
        self._body = body
        self.delivery_tag = delivery_tag
        self.redelivered = redelivered

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def headers(self) -> Mapping[str, Any]:
        return self._properties.headers or {}

    @property
    def message_id(self) -> str | None:
        return self._properties.message_id

    @property
    def content_type(self) -> str | None:
        return self._properties.content_type

    @property
    def reply_to(self) -> str | None:
        return self._properties.reply_to

    @property
    def correlation_id(self) -> str | None:
        return self._properties.correlation_id

    async def ack(self) -> None:
        try:
            await self._link.basic_ack(self.delivery_tag)
        except LinkClosed as exc:
            logger.info("ack of %d lost with its link: %s", self.delivery_tag, exc)

    async def nack(self, *, requeue: bool = True) -> None:
        try:
            await self._link.basic_nack(self.delivery_tag, requeue=requeue)
        except LinkClosed as exc:
            logger.info("nack of %d lost with its link: %s", self.delivery_tag, exc)

    def answer(self, body: bytes, properties: Properties) -> None:
        """Sends ``body`` to the asker's direct reply-to, on the same link: with the other
        answers of this turn when the asker takes them together."""
        if self.reply_to:
            together = self.headers.get(TOGETHER_HEADER) is True
            self._answers.send(self.reply_to, body, properties, together=together)


class Member(Received):
    """Member ``index`` of ``members`` in a bundle (``shared/contracts/bundle.py``), handled
    as if it had come alone: the bundle's headers but for the asks, its own body and id,
    and its own ask, as the reply headers and correlation id of a message that came alone.
    The broker holds only the bundle, so a member's ack waits for the bundle's; a detour
    publishes a copy of the member alone (its body, encoded only then: most members never
    need it); and a member sent back (``nack``) sends the whole bundle back, every member
    with it (each is handled idempotently, so the others count once all the same)."""

    __slots__ = ("_envelope", "returned")

    def __init__(self, bundle: Received, envelope: Envelope[Any], index: int, members: int) -> None:
        headers = dict(bundle.headers)
        ask = ask_of(headers.pop(ASKS_HEADER, None), index, members)
        if ask is not None:
            headers.update(ask.headers())
        properties = Properties(
            message_id=envelope.id,
            content_type="application/json",
            headers=headers,
            correlation_id=None if ask is None else ask.correlation_id,
            reply_to=None if ask is None else bundle.reply_to,
        )
        super().__init__(
            bundle._link,
            bundle.delivery_tag,
            bundle.redelivered,
            properties,
            b"",  # the body is the envelope's, made when asked for (``body``)
            bundle._answers,
        )
        self._envelope = envelope
        self.returned = False

    @property
    def body(self) -> bytes:
        return self._envelope.to_bytes()

    async def ack(self) -> None:
        return None  # with the bundle

    async def nack(self, *, requeue: bool = True) -> None:
        self.returned = True


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


def delivery_of(message: Received, envelope: Envelope[Any], *, received: float) -> Delivery[Any]:
    """The handler's view of ``message``, which reached the process at ``received``
    (monotonic): it may answer on direct reply-to, on the link it came by, when the
    publisher asked for a reply. The answer is fire and forget: no ``mandatory`` and no
    confirm: the asker has a deadline and a fallback, and a confirm per answer cost the
    responder more CPU than building the answer did. Answers to an asker that takes them
    together go at the end of the turn, with the others (``answers.py``)."""
    respond: Respond | None = None
    if message.reply_to:
        properties = Properties(
            correlation_id=message.correlation_id,
            content_type="application/json",
            message_id=f"{envelope.id}.reply",
        )

        async def respond(body: bytes) -> None:
            message.answer(body, properties)

    return Delivery(
        envelope=envelope,
        headers=dict(message.headers),
        redelivered=message.redelivered,
        respond=respond,
        received=received,
    )
