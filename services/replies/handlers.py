"""The replies service's two jobs on the bus.

* :class:`PassiveReplies`: the gateway waits (direct reply-to) for the answer to a
  reader's message or a subscribe, scan or click: the tenant's rules answer in time.
* :class:`Fallbacks`: the gateway could not wait (``reply.fallback``), so the same answer
  goes through the customer-service API, at most once per event: a claim in the sent log
  comes first, so a redelivery, WeChat's retry or a second replica sends nothing more.
  What is not sent is recorded with its reason; only a failure that certainly sent
  nothing is retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from services.replies.customer_service import QuotaPolicy, cs_message, refusal
from services.replies.inbound import inbound_of
from services.replies.metrics import ReplyMetrics
from services.replies.ports import Accounts, CustomerService, EventSink, RuleSource, SentLog
from shared.contracts.envelope import REPLY_DEADLINE_HEADER, Envelope, parse_iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer, Reply
from shared.contracts.reply_events import ReplyFallback, reply_sent
from shared.platform.delivery import Delivery
from shared.platform.storage import PyMongoError
from shared.wechat.errors import RateLimited, Transient, WeChatError

logger = logging.getLogger(__name__)


def deadline_passed(headers: Mapping[str, object], now_ms: int) -> bool:
    deadline = headers.get(REPLY_DEADLINE_HEADER)
    return not isinstance(deadline, int) or deadline <= now_ms


def seconds_since(stamp: str, now: datetime) -> float:
    return (now - parse_iso(stamp)).total_seconds()


@dataclass(frozen=True, slots=True)
class PassiveReplies:
    rules: RuleSource
    metrics: ReplyMetrics
    rng: random.Random

    async def handle(self, delivery: Delivery[WeChatMessage]) -> None:
        if not delivery.wants_reply:
            return
        if deadline_passed(delivery.headers, int(time.time() * 1000)):
            self.metrics.passive.labels("late").inc()
            return
        answer, outcome = await self._answer(delivery.envelope)
        self.metrics.passive.labels(outcome).inc()
        await delivery.reply(answer.encode())
        since = seconds_since(delivery.envelope.received_at, datetime.now(UTC))
        self.metrics.latency.labels("passive").observe(since)

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
        logger.info("event %s answered by rule %s", event.id, rule.id)
        return PassiveAnswer(reply, rule.id), "rule"


@dataclass(frozen=True, slots=True)
class Fallbacks:
    rules: RuleSource
    sent: SentLog
    accounts: Accounts
    wechat: CustomerService
    events: EventSink
    metrics: ReplyMetrics
    policy: QuotaPolicy
    rng: random.Random

    async def handle(self, delivery: Delivery[ReplyFallback]) -> None:
        original = delivery.envelope.payload.event
        now = datetime.now(UTC)
        answer = (await self.rules.get(original.tenant_id)).answer(
            inbound_of(original), now, self.rng
        )
        if answer is None:
            self.metrics.fallback.labels("no_rule").inc()
            return
        rule, reply = answer
        tenant_id = original.tenant_id
        claimed = await self.sent.claim(
            tenant_id, original.id, openid=original.openid, rule_id=rule.id, at=now
        )
        if not claimed:
            self.metrics.fallback.labels("duplicate").inc()
            return
        status = await self._send(original, reply, now)
        await self.sent.finish(tenant_id, original.id, status)
        self.metrics.fallback.labels(status).inc()
        if status == "sent":
            since = seconds_since(original.received_at, now)
            self.metrics.latency.labels("customer_service").observe(since)
            await self.events.publish(
                reply_sent(original, rule_id=rule.id, via="customer_service", at=now)
            )

    async def _send(self, original: Envelope[WeChatMessage], reply: Reply, now: datetime) -> str:
        try:
            asked_at = parse_iso(original.occurred_at)
            already = await self.sent.sent_since(original.tenant_id, original.openid, asked_at)
            why_not = refusal(self.policy, original.type, asked_at, now, already)
            if why_not is not None:
                return why_not
            account = await self.accounts.account(original.tenant_id)
            await self.wechat.send_custom_message(account.appid, cs_message(original.openid, reply))
        except Transient as exc:
            if exc.maybe_delivered:
                return "unknown"  # it may have arrived: never send twice
            await self.sent.unclaim(original.tenant_id, original.id)  # try again later
            raise
        except WeChatError as exc:
            if isinstance(exc, RateLimited):
                await self.sent.unclaim(original.tenant_id, original.id)
                raise
            logger.warning("fallback for %s not sent: errcode %s", original.id, exc.errcode)
            return f"refused_{exc.outcome}"
        except Exception:
            await self.sent.unclaim(original.tenant_id, original.id)  # nothing went out
            raise
        return "sent"
