"""Consuming a service's queue: decode, route by payload type, one failure policy.

A service registers one handler per payload class (:class:`Handlers`). The frame decodes
the typed envelope before any handler runs. Then:

* bytes that do not decode, or an envelope whose inner and outer tenant differ, go to the
  dead-letter queue at once, with the reason in ``x-wxp-dead-letter-reason``;
* an event of a tenant that no longer exists is acked and dropped;
* a type the service has no handler for is acked (``ignored``);
* the handler returns: ack (the work is stored); raises :class:`Reject`: dead-letter now;
  raises :class:`RetryLater`: into the queue's retry queue, back after its delay (after
  ``delivery_limit`` such retries, dead-letter: ``retries_exhausted``); raises
  :class:`Deferred` (the service is at its bound for that work): the same way, the retry
  not counted; raises anything else: back to the queue at once, until the queue's delivery
  limit dead-letters it.

A bundle (``shared/contracts/bundle.py``: envelopes of one type in one message) is taken
apart, and each member goes through the same steps at once, as if it had come alone, with
one difference: a member whose handler raises anything but Reject goes alone to the retry
queue (a bundle sent back whole would bring every member back, and the queue's delivery
limit would dead-letter them all for one). The bundle is acked once every member is
handled, dead-lettered or waiting in the retry queue; bytes that are not a bundle go to
the dead-letter queue whole.

What is acked (handled, dropped, ignored) is acked in batches (``acks.py``): one
``multiple=True`` ack per turn of the flusher, never past a message still in flight, so a
failing message is still settled alone. The prefetch bounds the messages in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from aio_pika.abc import AbstractConnection

from shared.contracts.bundle import BUNDLE_CONTENT_TYPE, decode_bundle
from shared.contracts.envelope import Envelope, EnvelopeError, parse_iso
from shared.contracts.payloads import decode
from shared.contracts.topology import QueueSpec, declare_queue
from shared.platform.acks import BatchAcks
from shared.platform.amqp_link import AmqpLink, link_beside
from shared.platform.answers import TurnAnswers
from shared.platform.delivery import (
    Deferred,
    Handlers,
    Member,
    Properties,
    Received,
    Reject,
    RetryLater,
    delivery_of,
)
from shared.platform.detours import Detours
from shared.platform.metrics import ConsumerMetrics

logger = logging.getLogger(__name__)
BUNDLE, BUNDLE_BACK = "bundle", "bundle_back"  # a bundle's own outcome: its members count
BATCHED = frozenset({"ack", "dropped", "ignored", BUNDLE})  # outcomes the frame acks in batches


class Consumer:
    def __init__(
        self,
        spec: QueueSpec,
        handlers: Handlers,
        *,
        metrics: ConsumerMetrics,
        prefetch: int = 32,
        tenant_exists: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.spec = spec
        self._tenant_exists = tenant_exists
        self._handlers = handlers
        self._metrics = metrics
        self._prefetch = prefetch
        self._detours = Detours(spec, metrics)
        self._link: AmqpLink | None = None
        self._acks: BatchAcks | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the handlers running (held, not lost)
        self._counted = {  # metric children bound once: a label lookup per message costs
            outcome: metrics.messages.labels(spec.name, outcome)
            for outcome in (
                "ack",
                "requeue",
                "dead_letter",
                "retry",
                "deferred",
                "dropped",
                "ignored",
            )
        }
        self._latency = metrics.latency.labels(spec.name)
        self._lag = metrics.lag.labels(spec.name)
        self._answers_per_message = metrics.answers_per_message.labels(spec.name)
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def setup(self, connection: AbstractConnection) -> None:
        """Broker on-connect step: topology and the detours' channel on ``connection``,
        then the consuming link of its own (``amqp_link.py``) to the same broker."""
        channel = await connection.channel(publisher_confirms=False)
        await declare_queue(channel, self.spec)
        await channel.close()
        self._detours.channel = await connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        await self._drop_link()  # the last connection's: what it handled is acked first
        link = await link_beside(
            connection, role=f"consuming {self.spec.name}", prefetch=self._prefetch
        )
        self._link, self._acks = link, BatchAcks(link)  # this link's deliveries, its acks
        answers = TurnAnswers(link, self._answers_per_message.observe)  # on direct reply-to
        await link.consume(self.spec.name, partial(self._on_delivery, link, self._acks, answers))

    async def stop(self, grace: float) -> None:
        """Stops taking messages and waits (up to ``grace``) for those in flight, then acks
        what they finished and closes the link."""
        if self._link is not None:
            try:
                await self._link.cancel()
            except (OSError, RuntimeError) as exc:  # LinkClosed, TimeoutError
                logger.info("cancel consumer on %s: %s", self.spec.name, exc)
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            logger.warning(
                "%d messages still in flight on %s at shutdown", self._inflight, self.spec.name
            )
        await self._drop_link()

    async def _drop_link(self) -> None:
        link, acks, self._link, self._acks = self._link, self._acks, None, None
        if acks is not None:
            await acks.close()  # what is handled is acked before the link goes
        if link is not None:
            await link.close()

    def _on_delivery(
        self,
        link: AmqpLink,
        acks: BatchAcks,
        answers: TurnAnswers,
        tag: int,
        redelivered: bool,
        properties: Properties,
        body: bytes,
    ) -> None:
        message = Received(link, tag, redelivered, properties, body, answers)
        self._inflight += 1
        self._idle.clear()
        acks.taken(tag)
        task = asyncio.get_running_loop().create_task(self._on_message(acks, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_message(self, acks: BatchAcks, message: Received) -> None:
        tag = message.delivery_tag
        started, received = time.perf_counter(), time.monotonic()
        outcome: str | None = None  # unsettled: stays in flight, so no batch ack passes it
        try:
            outcome = await self._handle(message, received)
        except Exception:
            logger.exception("handling a message on %s; returning it", self.spec.name)
            await message.nack(requeue=True)
            outcome = "requeue"
        finally:
            if outcome in BATCHED:
                acks.handled(tag)
            elif outcome is not None:
                acks.settled(tag)
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()
        if outcome not in (BUNDLE, BUNDLE_BACK):
            self._count(outcome)
        self._latency.observe(time.perf_counter() - started)

    def _count(self, outcome: str) -> None:
        counted = self._counted.get(outcome)
        if counted is None:
            counted = self._counted[outcome] = self._metrics.messages.labels(
                self.spec.name, outcome
            )
        counted.inc()

    async def _handle(self, message: Received, received: float) -> str:
        if message.content_type == BUNDLE_CONTENT_TYPE:
            return await self._handle_bundle(message, received)
        try:
            envelope = decode(message.body)
        except EnvelopeError as exc:
            return await self._detours.dead_letter(message, exc.reason, str(exc))
        self._observe_lag([envelope])
        return await self._handle_envelope(message, envelope, received)

    def _observe_lag(self, envelopes: Sequence[Envelope[Any]]) -> None:
        """Each event's age now, as its message is taken (a bundle's members all at once,
        before any of them waits for the others' handlers)."""
        now = time.time()
        for envelope in envelopes:
            try:
                at = parse_iso(envelope.received_at).timestamp()
            except ValueError:  # decoding checks it is a string, not that it is a time
                continue
            self._lag.observe(max(0.0, now - at))

    async def _handle_bundle(self, bundle: Received, received: float) -> str:
        try:
            envelopes = decode_bundle(bundle.body)
        except EnvelopeError as exc:
            return await self._detours.dead_letter(bundle, exc.reason, str(exc))
        self._observe_lag(envelopes)
        members = [
            Member(bundle, envelope, index, len(envelopes))
            for index, envelope in enumerate(envelopes)
        ]
        outcomes = await asyncio.gather(
            *(
                self._handle_envelope(member, envelope, received)
                for member, envelope in zip(members, envelopes, strict=True)
            )
        )
        for outcome in outcomes:
            self._count(outcome)
        if any(member.returned for member in members):  # a detour's publish failed
            await bundle.nack(requeue=True)
            return BUNDLE_BACK
        return BUNDLE

    async def _handle_envelope(
        self, message: Received, envelope: Envelope[Any], received: float
    ) -> str:
        if self._tenant_exists is not None and not await self._tenant_exists(envelope.tenant_id):
            logger.info("dropping event %s of deleted tenant %s", envelope.id, envelope.tenant_id)
            return "dropped"
        handler = self._handlers.for_payload(envelope.payload)
        if handler is None:
            return "ignored"
        try:
            await handler(delivery_of(message, envelope, received=received))
        except Reject as exc:
            why = f"event {envelope.id}: {exc}"
            return await self._detours.dead_letter(message, "rejected", why)
        except Deferred as exc:
            return await self._detours.defer(message, f"event {envelope.id}: {exc}")
        except RetryLater as exc:
            return await self._detours.retry_later(message, f"event {envelope.id}: {exc}")
        except Exception as exc:
            if isinstance(message, Member):  # alone, so its bundle's others are not held back
                logger.exception("event %s of a bundle failed on %s", envelope.id, self.spec.name)
                return await self._detours.retry_later(message, f"event {envelope.id}: {exc!r}")
            logger.exception(
                "event %s failed on %s; returning it to the queue", envelope.id, self.spec.name
            )
            await message.nack(requeue=True)
            return "requeue"
        return "ack"
