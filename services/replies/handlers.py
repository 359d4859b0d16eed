"""The replies service's passive replies: the gateway waits (direct reply-to) for the answer
to a reader's message or a subscribe, scan or click, and the tenant's rules answer in time.
(When the gateway could not wait, ``fallback.py`` answers through the customer-service API.)

A message no rule answers goes to the reader inbox (``inbox.py``) once the gateway has its
answer. Should the database refuse that, the message comes back through the queue's retry
queue, without a reply-to: the retry only records it (nothing else here retries).

How long the gateway still waits: ``x-wxp-reply-budget-ms``, the milliseconds left when it
published, counted from this process's own receipt of the message, so that clocks skewed
between hosts move nothing; an older gateway sends only ``x-wxp-reply-deadline``, in epoch
milliseconds.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from services.replies.inbound import inbound_of
from services.replies.metrics import ReplyMetrics
from services.replies.ports import RuleSource, Unanswered
from shared.contracts.envelope import (
    REPLY_BUDGET_HEADER,
    REPLY_DEADLINE_HEADER,
    Envelope,
    parse_iso,
)
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer
from shared.platform.delivery import RETRIES_HEADER, Delivery, RetryLater
from shared.platform.storage import PyMongoError

logger = logging.getLogger(__name__)


def deadline_passed(headers: Mapping[str, object], *, now_ms: int, held_ms: float) -> bool:
    """Whether the gateway has stopped waiting, ``held_ms`` after this process received
    the message (``now_ms``: the epoch, for a message that carries only the deadline)."""
    budget = headers.get(REPLY_BUDGET_HEADER)
    if type(budget) is int:
        return held_ms >= budget
    deadline = headers.get(REPLY_DEADLINE_HEADER)
    return type(deadline) is not int or deadline <= now_ms


@dataclass(frozen=True, slots=True)
class PassiveReplies:
    rules: RuleSource
    unanswered: Unanswered
    metrics: ReplyMetrics
    rng: random.Random

    async def handle(self, delivery: Delivery[WeChatMessage]) -> None:
        if type(delivery.headers.get(RETRIES_HEADER)) is int:  # an unanswered one, not kept
            await self._unanswered(delivery.envelope)
            return
        if not delivery.wants_reply:
            return
        held_ms = (time.monotonic() - delivery.received) * 1000
        if deadline_passed(delivery.headers, now_ms=int(time.time() * 1000), held_ms=held_ms):
            self.metrics.passive.labels("late").inc()
            return
        answer, outcome = await self._answer(delivery.envelope)
        self.metrics.passive.labels(outcome).inc()
        await delivery.reply(answer.encode())
        since = (datetime.now(UTC) - parse_iso(delivery.envelope.received_at)).total_seconds()
        self.metrics.latency.labels("passive").observe(since)
        if outcome == "none":
            await self._unanswered(delivery.envelope)

    async def _unanswered(self, event: Envelope[WeChatMessage]) -> None:
        """Into the reader inbox (a reader's message only; once, whatever comes again)."""
        try:
            if await self.unanswered.record(event):
                self.metrics.inbox.labels("recorded").inc()
        except PyMongoError as exc:
            raise RetryLater(f"inbox: {type(exc).__name__}") from exc

    async def _answer(self, event: Envelope[WeChatMessage]) -> tuple[PassiveAnswer, str]:
        try:
            rule_set = await self.rules.get(event.tenant_id)
        except (PyMongoError, LookupError) as exc:
            logger.warning("no rules for %s (%s): answering none", event.tenant_id, exc)
            return PassiveAnswer(), "error"
        answer = rule_set.answer(inbound_of(event), datetime.now(UTC), self.rng)
        if answer is None:
            return PassiveAnswer(), "none"
        rule, reply = answer
        logger.debug("event %s answered by rule %s", event.id, rule.id)  # reply.sent says so too
        return PassiveAnswer(reply, rule.id), "rule"
