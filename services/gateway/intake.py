"""What happens to an accepted message: dedup, publish (or keep), wait for a reply.

``Intake.accept`` is called by the webhook handler once the request is verified and
parsed. It returns the reply spec to render, or None for ``success``. It raises
``BrokerUnavailable`` only when neither the broker nor the database could take the
event: the handler answers 503 and WeChat retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from services.gateway.metrics import GatewayMetrics
from services.gateway.publisher import EventPublisher
from services.gateway.repository import EventStore
from shared.bus import BrokerUnavailable
from shared.envelope import Envelope, iso
from shared.storage import UNAVAILABLE

logger = logging.getLogger(__name__)

DEADLINE_HEADER = "x-wxp-reply-deadline"  # epoch milliseconds after which no passive reply helps


def fallback_of(event: Envelope, reason: str, *, now: datetime) -> Envelope:
    """The ``reply.fallback`` event: answer ``event`` through the customer-service API."""
    return replace(
        event,
        id=f"{event.id}-fb",
        type="reply.fallback",
        received_at=iso(now),
        payload={"reason": reason, "event": json.loads(event.to_bytes())},
    )


class Intake:
    def __init__(
        self,
        *,
        store: EventStore,
        publisher: EventPublisher,
        metrics: GatewayMetrics,
        reply_deadline: float,
        retry_grace: float,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._metrics = metrics
        self._deadline = reply_deadline
        self._retry_grace = retry_grace
        self._tasks: set[asyncio.Task[None]] = set()
        self.backlog = False  # events are kept: publish new ones after them, through the relay
        self.wakeup = asyncio.Event()

    async def accept(self, event: Envelope, *, wants_reply: bool) -> dict[str, Any] | None:
        try:
            first = await self._store.first_sight(event)
        except UNAVAILABLE:
            logger.warning("database unavailable; publishing %s without dedup", event.id)
            await self._publish(event, path="untracked")
            return None
        if not first:
            seen = await self._store.seen(event.id)
            if seen is not None and (seen.published or seen.age_seconds < self._retry_grace):
                self._metrics.dedup_hits.inc()
                return seen.reply
            logger.warning("event %s was accepted but never published; publishing it now", event.id)
        self._metrics.accepted.labels(event.kind).inc()
        if wants_reply and not self.backlog:
            return await self._publish_and_wait(event)
        await self._publish_or_keep(event)
        if wants_reply:
            await self._publish_or_keep(
                fallback_of(event, "broker_unavailable", now=datetime.now(UTC))
            )
            self._metrics.replies.labels("fallback").inc()
        return None

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
                self._background(self._store.mark_published(event.id))
                return
        await self._store.keep(event, {})
        self._metrics.kept.inc()
        self.backlog = True
        self.wakeup.set()

    async def _publish_and_wait(self, event: Envelope) -> dict[str, Any] | None:
        started = time.perf_counter()
        correlation_id = uuid.uuid4().hex
        reply = self._publisher.expect_reply(correlation_id)
        deadline_ms = int((time.time() + self._deadline) * 1000)
        try:
            await self._publish(
                event,
                path="direct",
                headers={DEADLINE_HEADER: deadline_ms},
                correlation_id=correlation_id,
            )
        except BrokerUnavailable as exc:
            self._publisher.forget(correlation_id)
            logger.warning("keeping %s for the relay: %s", event.id, exc)
            self.backlog = True  # from here on the relay publishes, in order
            await self._publish_or_keep(event)
            await self._publish_or_keep(
                fallback_of(event, "broker_unavailable", now=datetime.now(UTC))
            )
            self._metrics.replies.labels("fallback").inc()
            return None
        remaining = self._deadline - (time.perf_counter() - started)
        try:
            body = await asyncio.wait_for(reply, max(remaining, 0.0))
        except TimeoutError:
            self._publisher.forget(correlation_id)
            self._metrics.deadline_missed.inc()
            self._metrics.replies.labels("fallback").inc()
            self._background(self._store.mark_published(event.id))
            await self._publish_or_keep(fallback_of(event, "deadline", now=datetime.now(UTC)))
            return None
        self._metrics.reply_wait.observe(time.perf_counter() - started)
        spec = _decode_reply(body)
        self._metrics.replies.labels("none" if spec is None else "passive").inc()
        self._background(self._store.mark_published(event.id, reply=spec))
        return spec

    def _background(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("background store update failed: %s", task.exception())

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _decode_reply(body: bytes) -> dict[str, Any] | None:
    try:
        spec = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        logger.error("undecodable passive reply dropped")
        return None
    if not isinstance(spec, dict) or spec.get("type") in (None, "none"):
        return None
    return spec
