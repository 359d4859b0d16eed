"""What happens to an accepted message: dedup, publish (or keep), wait for a reply.

``Intake.accept`` is called by the webhook handler once the request is verified and
parsed, with the moment the request arrived. Everything it does fits in the reply
deadline, so WeChat never waits past 5 s: database calls are bounded, and when the
database does not answer in time the event is published without dedup (consumers are
idempotent on its id). It returns the passive answer to render, or None for ``success``;
it raises ``BrokerUnavailable`` when neither the broker nor the database could take the
event, and ``RetryLater`` when a retry arrives while the first attempt may still be at
work; the handler answers 503 to both, so that WeChat retries.

A retry of a seen id is answered from the records only when they show the event on the
bus or in the outbox; otherwise it is published: an id is never taken as handled just
because it was seen.

A refused event's records stay as they are. Its keep timed out, but may land late (so
may anything written to a slow or cut-off database), so only its retry, reading them,
can tell: kept, it answers 200 and the relay publishes; seen but neither, it publishes,
at once on the replica that refused (its attempt is over), after the grace elsewhere.
Taking a timed-out keep back, as the gateway once did, could land after a retry had
found the event kept and answered 200: fault runs lost events so.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from services.gateway.bounded import Bounded, DatabaseSlow
from services.gateway.dispatch import Dispatch
from services.gateway.marks import Published
from services.gateway.metrics import GatewayMetrics
from services.gateway.ports import Dedup, Marks
from shared.contracts.bundle import ReplyAsk
from shared.contracts.codec import DecodeError
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer
from shared.platform.bus import BrokerUnavailable
from shared.platform.publisher import ConfirmPending

logger = logging.getLogger(__name__)
MAX_REFUSED = 10_000
REPLAY_POLL = 0.1  # how often a retry looks again for its first attempt's record


class RetryLater(BrokerUnavailable):
    """A retry of an event that is neither on the bus nor kept, seen so recently that its
    first attempt may still be publishing it: 503, and WeChat's next retry decides."""


class Replay(Enum):
    ANSWERED = "answered"  # on the bus or kept: answer as the first attempt did
    PUBLISH = "publish"  # nobody took it: publish it now
    WAIT = "wait"  # the first attempt may still take it: 503


def replay_decision(*, handled: bool, seen_age: float | None, retry_grace: float) -> Replay:
    """What to do with a retry of a seen id. ``handled``: it is published or kept.
    ``seen_age`` None: the seen record is gone (forgotten after a 503, or purged)."""
    if handled:
        return Replay.ANSWERED
    if seen_age is not None and seen_age < retry_grace:
        return Replay.WAIT
    return Replay.PUBLISH


@dataclass(slots=True)
class Intake:
    dedup: Dedup
    marks: Marks
    dispatch: Dispatch  # its publisher also carries the direct reply-to the wait needs
    metrics: GatewayMetrics
    reply_deadline: float
    retry_grace: float
    bounded: Bounded = field(default_factory=Bounded)
    # ids this replica answered 503: their first attempt is over, so a retry here need not
    # wait out the grace for it (it still answers from a kept event or a note)
    _refused: OrderedDict[str, None] = field(default_factory=OrderedDict)

    async def accept(
        self, event: Envelope[WeChatMessage], *, wants_reply: bool, arrived: float
    ) -> PassiveAnswer | None:
        """``arrived`` is the request's ``time.monotonic()``: the deadline counts from it."""
        started = time.perf_counter()
        try:
            first = await self.bounded(self.dedup.first_sight(event))
            self.metrics.dedup_latency.observe(time.perf_counter() - started)
        except DatabaseSlow as exc:
            logger.warning("no dedup for %s (%s); publishing it anyway", event.id, exc)
            self.metrics.dedup_skipped.inc()
            first = True
        if not first:
            replay = await self._replay(event, deadline=arrived + self.reply_deadline)
            if replay is not None:
                return replay[0]
        self.metrics.child(self.metrics.accepted, event.kind).inc()
        try:
            if wants_reply and not self.dispatch.backlog.queuing:
                return await self._publish_and_wait(event, deadline=arrived + self.reply_deadline)
            await self.dispatch.publish_or_keep(event)
        except BrokerUnavailable:
            self._refused[event.id] = None  # 503; the records stay (module docstring)
            while len(self._refused) > MAX_REFUSED:
                self._refused.popitem(last=False)
            raise
        if wants_reply:
            await self.dispatch.fall_back(event, "broker_unavailable")
        return None

    async def _replay(
        self, event: Envelope[Any], *, deadline: float
    ) -> tuple[PassiveAnswer | None] | None:
        """For an id seen before: ``(answer,)`` to answer with, or None to publish after all.
        While its first attempt may still be at work, it waits for that attempt's record
        until ``deadline``, then raises RetryLater."""
        while True:
            try:
                note, kept, seen_at = await self._records(event)
            except DatabaseSlow as exc:
                logger.warning("no record of %s for its retry (%s); publishing it", event.id, exc)
                self.metrics.dedup_skipped.inc()
                return None
            over = event.id in self._refused  # refused here: no attempt is still at work
            age = None if seen_at is None or over else (datetime.now(UTC) - seen_at).total_seconds()
            decision = replay_decision(
                handled=note is not None or kept, seen_age=age, retry_grace=self.retry_grace
            )
            if decision is Replay.ANSWERED:
                self.metrics.dedup_hits.inc()
                # Retries are few; which record answered one is what a lost event's
                # post-mortem needs (the fault run's report collects these lines).
                logger.info("retry of %s answered: %s", event.id, "kept" if kept else "published")
                return (note.answer if note is not None else None,)
            if decision is Replay.PUBLISH:
                logger.warning("%s was seen, never published nor kept: publishing it", event.id)
                return None
            if time.monotonic() + REPLAY_POLL >= deadline:
                raise RetryLater(f"{event.id} may still be publishing")
            await asyncio.sleep(REPLAY_POLL)

    async def _records(
        self, event: Envelope[Any]
    ) -> tuple[Published | None, bool, datetime | None]:
        """What the records say of a seen id: its published note, whether it is kept, and
        (when neither) when it was first seen. Raises DatabaseSlow."""
        note = await self.bounded(self.marks.lookup(event.id))
        if note is not None:
            return note, False, None
        if await self.bounded(self.dispatch.keeper.holds(event.id)):
            return None, True, None
        return None, False, await self.bounded(self.dedup.seen_at(event))

    async def _publish_and_wait(
        self, event: Envelope[WeChatMessage], *, deadline: float
    ) -> PassiveAnswer | None:
        correlation_id = uuid.uuid4().hex
        publisher = self.dispatch.publisher
        reply = publisher.expect_reply(correlation_id)
        left = deadline - time.monotonic()
        ask = ReplyAsk(
            correlation_id,
            budget_ms=max(int(left * 1000), 0),
            deadline_ms=int((time.time() + left) * 1000),
        )
        try:
            await self.dispatch.publish(event, ask)
        except BrokerUnavailable as exc:  # a late confirm (ConfirmPending) is kept held
            publisher.forget(correlation_id)
            pending = exc if isinstance(exc, ConfirmPending) else None
            if pending is None:  # keep() says so of a late confirm itself
                logger.warning("keeping %s for the relay: %s", event.id, exc)
            await self.dispatch.keep(event, pending=pending)
            await self.dispatch.fall_back(event, "broker_unavailable")
            return None
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                body = await reply
        except TimeoutError:
            publisher.forget(correlation_id)
            self.metrics.deadline_missed.inc()
            self.marks.add(event.id, event.tenant_id)
            await self.dispatch.fall_back(event, "deadline")
            return None
        self.metrics.reply_wait.observe(time.monotonic() - (deadline - self.reply_deadline))
        answer = _decode(body)
        outcome = "none" if answer.reply is None else "passive"
        self.metrics.child(self.metrics.replies, outcome).inc()
        self.marks.add(event.id, event.tenant_id, answer)
        return answer if answer.reply is not None else None


def _decode(body: bytes) -> PassiveAnswer:
    try:
        return PassiveAnswer.decode(body)
    except DecodeError as exc:
        logger.error("undecodable passive reply dropped: %s", exc)
        return PassiveAnswer()
