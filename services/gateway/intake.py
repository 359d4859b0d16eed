"""What happens to an accepted message: dedup, publish (or keep), wait for a reply.

``Intake.accept`` is called by the webhook handler once the request is verified and
parsed, with the moment the request arrived. Everything it does fits in the reply
deadline, so WeChat never waits past 5 s: database calls are bounded, and when the
database does not answer in time the event is published without dedup (consumers are
idempotent on its id). It returns the passive answer to render, or None for ``success``;
it raises ``BrokerUnavailable`` only when neither the broker nor the database could
take the event, and the handler answers 503 so that WeChat retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.gateway.bounded import Bounded, DatabaseSlow
from services.gateway.dispatch import Dispatch
from services.gateway.metrics import GatewayMetrics
from services.gateway.ports import Dedup, Marks
from shared.contracts.codec import DecodeError
from shared.contracts.envelope import REPLY_DEADLINE_HEADER, Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer
from shared.platform.bus import BrokerUnavailable

logger = logging.getLogger(__name__)


def should_republish(seen_age: float | None, published: bool, retry_grace: float) -> bool:
    """A retry of a seen id is published again only when it was seen long enough ago and
    never confirmed (its first attempt died between dedup and publish)."""
    return seen_age is not None and not published and seen_age >= retry_grace


@dataclass(slots=True)
class Intake:
    dedup: Dedup
    marks: Marks
    dispatch: Dispatch  # its publisher also carries the direct reply-to the wait needs
    metrics: GatewayMetrics
    reply_deadline: float
    retry_grace: float
    bounded: Bounded = field(default_factory=Bounded)

    async def accept(
        self, event: Envelope[WeChatMessage], *, wants_reply: bool, arrived: float
    ) -> PassiveAnswer | None:
        """``arrived`` is the request's ``time.monotonic()``: the deadline counts from it."""
        try:
            first = await self.bounded(self.dedup.first_sight(event))
        except DatabaseSlow as exc:
            logger.warning("no dedup for %s (%s); publishing it anyway", event.id, exc)
            self.metrics.dedup_skipped.inc()
            first = True
        if not first:
            replay = await self._replay(event)
            if replay is not None:
                return replay[0]
        self.metrics.accepted.labels(event.kind).inc()
        if wants_reply and not self.dispatch.backlog.active:
            return await self._publish_and_wait(event, deadline=arrived + self.reply_deadline)
        await self.dispatch.publish_or_keep(event)
        if wants_reply:
            await self.dispatch.fall_back(event, "broker_unavailable")
        return None

    async def _replay(self, event: Envelope[Any]) -> tuple[PassiveAnswer | None] | None:
        """For an id seen before: ``(answer,)`` to answer with, or None to publish after all."""
        try:
            seen_at = await self.bounded(self.dedup.seen_at(event.id))
            note = await self.bounded(self.marks.lookup(event.id))
        except DatabaseSlow:
            seen_at, note = None, None
        age = None if seen_at is None else (datetime.now(UTC) - seen_at).total_seconds()
        if should_republish(age, note is not None, self.retry_grace):
            logger.warning("event %s was accepted but never published; publishing it now", event.id)
            return None
        self.metrics.dedup_hits.inc()
        return (note.answer if note is not None else None,)

    async def _publish_and_wait(
        self, event: Envelope[WeChatMessage], *, deadline: float
    ) -> PassiveAnswer | None:
        correlation_id = uuid.uuid4().hex
        publisher = self.dispatch.publisher
        reply = publisher.expect_reply(correlation_id)
        deadline_ms = int((time.time() + deadline - time.monotonic()) * 1000)
        headers = {REPLY_DEADLINE_HEADER: deadline_ms}
        try:
            await self.dispatch.publish(event, headers=headers, correlation_id=correlation_id)
        except BrokerUnavailable as exc:
            publisher.forget(correlation_id)
            logger.warning("keeping %s for the relay: %s", event.id, exc)
            await self.dispatch.keep(event)
            await self.dispatch.fall_back(event, "broker_unavailable")
            return None
        try:
            body = await asyncio.wait_for(reply, max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            publisher.forget(correlation_id)
            self.metrics.deadline_missed.inc()
            self.marks.add(event.id, event.tenant_id)
            await self.dispatch.fall_back(event, "deadline")
            return None
        self.metrics.reply_wait.observe(time.monotonic() - (deadline - self.reply_deadline))
        answer = _decode(body)
        self.metrics.replies.labels("none" if answer.reply is None else "passive").inc()
        self.marks.add(event.id, event.tenant_id, answer)
        return answer if answer.reply is not None else None


def _decode(body: bytes) -> PassiveAnswer:
    try:
        return PassiveAnswer.decode(body)
    except DecodeError as exc:
        logger.error("undecodable passive reply dropped: %s", exc)
        return PassiveAnswer()
