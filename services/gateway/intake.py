"""What happens to an accepted message: dedup, publish (or keep), wait for a reply.

``Intake.accept`` is called by the webhook handler once the request is verified and
parsed, with the moment the request arrived. Everything it does fits in the reply
deadline, so WeChat never waits past 5 s: database calls are bounded, and when the
database does not answer in time the event is published without dedup (consumers are
idempotent on its id). It returns the reply spec to render, or None for ``success``;
it raises ``BrokerUnavailable`` only when neither the broker nor the database could
take the event, and the handler answers 503 so that WeChat retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from services.gateway.events import EventStore
from services.gateway.marks import PublishedMarks
from services.gateway.metrics import GatewayMetrics
from shared.bus import BrokerUnavailable
from shared.envelope import REPLY_DEADLINE_HEADER, Envelope, iso, reply_sent
from shared.publisher import EventPublisher
from shared.storage import UNAVAILABLE

logger = logging.getLogger(__name__)
T = TypeVar("T")


def fallback_of(event: Envelope, reason: str, *, now: datetime) -> Envelope:
    """The ``reply.fallback`` event: answer ``event`` through the customer-service API."""
    return replace(
        event,
        id=f"{event.id}-fb",
        type="reply.fallback",
        received_at=iso(now),
        payload={"reason": reason, "event": event.as_dict()},
    )


class DatabaseSlow(Exception):
    """The database did not answer within the time the webhook can spare."""


class Intake:
    def __init__(
        self,
        *,
        store: EventStore,
        marks: PublishedMarks,
        publisher: EventPublisher,
        metrics: GatewayMetrics,
        reply_deadline: float,
        retry_grace: float,
        db_timeout: float = 1.0,
    ) -> None:
        self._store = store
        self._marks = marks
        self._publisher = publisher
        self._metrics = metrics
        self._deadline = reply_deadline
        self._retry_grace = retry_grace
        self._db_timeout = db_timeout
        self.backlog = False  # events are kept: publish new ones after them, through the relay
        self.wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def replied(self, event: Envelope, spec: dict[str, Any]) -> None:
        """The passive reply went back to WeChat: say so on the bus (off the request path)."""
        rule_id = spec.get("rule_id")
        if not isinstance(rule_id, str):
            return
        sent = reply_sent(event, rule_id=rule_id, via="passive", at=datetime.now(UTC))
        task = asyncio.ensure_future(self._publish_or_keep(sent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Waits for the reply.sent events still being published (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def accept(
        self, event: Envelope, *, wants_reply: bool, arrived: float
    ) -> dict[str, Any] | None:
        """``arrived`` is the request's ``time.monotonic()``: the deadline counts from it."""
        try:
            first = await self._bounded(self._store.first_sight(event))
        except DatabaseSlow as exc:
            logger.warning("no dedup for %s (%s); publishing it anyway", event.id, exc)
            self._metrics.dedup_skipped.inc()
            first = True
        if not first:
            replay = await self._replay(event)
            if replay is not None:
                return replay[0]
        self._metrics.accepted.labels(event.kind).inc()
        if wants_reply and not self.backlog:
            return await self._publish_and_wait(event, deadline=arrived + self._deadline)
        await self._publish_or_keep(event)
        if wants_reply:
            await self._fall_back(event, "broker_unavailable")
        return None

    async def _replay(self, event: Envelope) -> tuple[dict[str, Any] | None] | None:
        """For an id seen before: ``(reply,)`` to answer with, or None to publish after all."""
        try:
            seen = await self._bounded(self._store.seen(event.id))
        except DatabaseSlow:
            seen = None
        if seen is not None and not seen.published and seen.age_seconds >= self._retry_grace:
            logger.warning("event %s was accepted but never published; publishing it now", event.id)
            return None
        self._metrics.dedup_hits.inc()
        return (seen.reply if seen is not None else None,)

    async def _bounded(self, work: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(work, self._db_timeout)
        except TimeoutError:
            raise DatabaseSlow(f"no answer in {self._db_timeout}s") from None
        except UNAVAILABLE as exc:
            raise DatabaseSlow(str(exc)) from None

    async def _publish(
        self,
        event: Envelope,
        *,
        path: str,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> None:
        started = time.perf_counter()
        await self._publisher.publish(event, headers=headers, correlation_id=correlation_id)
        self._metrics.publish_latency.observe(time.perf_counter() - started)
        self._metrics.published.labels(path).inc()

    async def _publish_or_keep(self, event: Envelope) -> None:
        if not self.backlog:
            try:
                await self._publish(event, path="direct")
            except BrokerUnavailable as exc:
                logger.warning("keeping %s for the relay: %s", event.id, exc)
            else:
                self._marks.add(event.id, event.tenant_id)
                return
        await self._keep(event)

    async def _keep(self, event: Envelope) -> None:
        try:
            await self._bounded(self._store.keep(event, {}))
        except DatabaseSlow as exc:
            raise BrokerUnavailable(f"neither broker nor database took {event.id}: {exc}") from exc
        self._metrics.kept.inc()
        self.backlog = True  # from here on the relay publishes, in order
        self.wakeup.set()

    async def _fall_back(self, event: Envelope, reason: str) -> None:
        self._metrics.replies.labels("fallback").inc()
        await self._publish_or_keep(fallback_of(event, reason, now=datetime.now(UTC)))

    async def _publish_and_wait(self, event: Envelope, *, deadline: float) -> dict[str, Any] | None:
        correlation_id = uuid.uuid4().hex
        reply = self._publisher.expect_reply(correlation_id)
        deadline_ms = int((time.time() + deadline - time.monotonic()) * 1000)
        try:
            await self._publish(
                event,
                path="direct",
                headers={REPLY_DEADLINE_HEADER: deadline_ms},
                correlation_id=correlation_id,
            )
        except BrokerUnavailable as exc:
            self._publisher.forget(correlation_id)
            logger.warning("keeping %s for the relay: %s", event.id, exc)
            await self._keep(event)
            await self._fall_back(event, "broker_unavailable")
            return None
        try:
            body = await asyncio.wait_for(reply, max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            self._publisher.forget(correlation_id)
            self._metrics.deadline_missed.inc()
            self._marks.add(event.id, event.tenant_id)
            await self._fall_back(event, "deadline")
            return None
        self._metrics.reply_wait.observe(time.monotonic() - (deadline - self._deadline))
        spec = _decode_reply(body)
        self._metrics.replies.labels("none" if spec is None else "passive").inc()
        self._marks.add(event.id, event.tenant_id, reply=spec)
        return spec


def _decode_reply(body: bytes) -> dict[str, Any] | None:
    try:
        spec = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        logger.error("undecodable passive reply dropped")
        return None
    if not isinstance(spec, dict) or spec.get("type") in (None, "none"):
        return None
    return spec
