"""The fallback: the gateway could not wait for a passive reply (``reply.fallback``), so the
rule's answer goes through the customer-service API, at most once per event.

In order: the answer (none: a reader's message goes to the reader inbox); a claim
(``claims.py``: a taken one is a duplicate, or is busy, or is settled once stale); the
window and the quota; the claim marked ``calling``; the call.
At most ``AtOnce.limit`` fallbacks are at work at once. Each holds its delivery while it
waits on WeChat, and the replies queue's prefetch is shared with the passive path: were
WeChat to hang, fallbacks would fill the prefetch, no reader's message would be delivered
to answer passively, every webhook would wait out its deadline and add one more fallback,
and passive replies would stop for every account until WeChat came back. One over the
limit goes back after the queue's retry delay (``deferred``), that wait not counted toward
the queue's delivery limit: a burst of fallbacks, or a database away for a minute, must not
use up the retries of those still waiting for their turn.

Every fallback ends ``sent``, refused with a reason (``outside_window``,
``quota_exhausted``, ``refused_*``, ``gave_up``) or ``unknown`` (it may have arrived, so it
is never sent again). Whatever fails before the call releases the claim (within its
lease; after it, the claim is left to settle once stale) and comes back after the queue's
retry delay (``RetryLater``): a database away, WeChat's rate limit or WeChat unreachable,
the event or the reader's quota held by a send in flight.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.replies.claims import (
    ABANDONED,
    UNKNOWN,
    Claim,
    ClaimTiming,
    after_taken,
    may_call,
    quota_verdict,
    stamp,
)
from services.replies.customer_service import QuotaPolicy, cs_message, outside_window, quota_limit
from services.replies.inbound import inbound_of
from services.replies.metrics import ReplyMetrics
from services.replies.ports import (
    Accounts,
    CustomerService,
    EventSink,
    RuleSource,
    SentLog,
    Unanswered,
)
from shared.contracts.envelope import Envelope, parse_iso, utc_now
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import Reply
from shared.contracts.reply_events import ReplyFallback, reply_sent
from shared.platform.delivery import Deferred, Delivery, RetryLater
from shared.platform.storage import PyMongoError
from shared.wechat.errors import RateLimited, Transient, WeChatError

logger = logging.getLogger(__name__)
# Fallbacks at work at once: three quarters of the default prefetch (32). Each runs as it
# arrives, as before there was a limit; the other quarter is the passive path's.
DEFAULT_AT_ONCE = 24


class Refused(Exception):
    """No message may go to the reader (the window closed, the quota is spent)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class AtOnce:
    """How many fallbacks are at work, and the most that may be."""

    limit: int
    busy: int = 0

    def enter(self) -> bool:
        """Takes a place; False when all ``limit`` are taken."""
        if self.busy >= self.limit:
            return False
        self.busy += 1
        return True

    def leave(self) -> None:
        self.busy -= 1


@dataclass(frozen=True, slots=True)
class Fallbacks:
    rules: RuleSource
    unanswered: Unanswered
    sent: SentLog
    accounts: Accounts
    wechat: CustomerService
    events: EventSink
    metrics: ReplyMetrics
    policy: QuotaPolicy
    rng: random.Random
    at_once: AtOnce = field(default_factory=lambda: AtOnce(DEFAULT_AT_ONCE))
    timing: ClaimTiming = field(default_factory=ClaimTiming)
    clock: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic

    async def handle(self, delivery: Delivery[ReplyFallback]) -> None:
        if not self.at_once.enter():
            self.metrics.fallback.labels("deferred").inc()
            raise Deferred(f"{self.at_once.limit} fallbacks already at work")
        try:
            await self._fall_back(delivery.envelope.payload.event)
        except PyMongoError as exc:
            raise RetryLater(f"database: {type(exc).__name__}") from exc
        finally:
            self.at_once.leave()

    async def _fall_back(self, original: Envelope[WeChatMessage]) -> None:
        began, now = self.monotonic(), stamp(self.clock())
        rule_set = await self.rules.get(original.tenant_id)
        answer = rule_set.answer(inbound_of(original), now, self.rng)
        if answer is None:
            self.metrics.fallback.labels("no_rule").inc()
            if await self.unanswered.record(original):  # a reader's message: the inbox
                self.metrics.inbox.labels("recorded").inc()
            return
        rule, reply = answer
        mine = await self._claim(original, rule.id, now, began)
        if mine is None:
            return
        status = await self._attempt(mine, original, reply, now, began)
        await self.sent.finish(original.tenant_id, mine, status)
        self.metrics.fallback.labels(status).inc()
        if status == "sent":
            since = (now - parse_iso(original.received_at)).total_seconds()
            self.metrics.latency.labels("customer_service").observe(since)
            sent = reply_sent(original, rule_id=rule.id, via="customer_service", at=now)
            await self.events.publish(sent)

    async def _claim(
        self, original: Envelope[WeChatMessage], rule_id: str, now: datetime, began: float
    ) -> Claim | None:
        """This handler's claim on the event, or None when it is settled already."""
        tenant_id = original.tenant_id
        first = Claim(original.id, 0, original.openid, rule_id, now)
        if await self.sent.insert(tenant_id, first):
            return first
        taken = after_taken(await self.sent.attempts(tenant_id, original.id), now, self.timing)
        if taken.action == "busy":
            raise RetryLater("a send of this event is in flight")
        if taken.action == "claim":
            mine = replace(first, attempt=taken.attempt)
            return await self._take_over(tenant_id, mine, taken.abandon, began)
        if taken.action != "duplicate" and taken.latest is not None:  # unknown, gave_up
            stale = taken.latest.id
            logger.warning("fallback %s: stale claim %s ends %s", original.id, stale, taken.action)
            await self.sent.finish(tenant_id, taken.latest, taken.action)
        self.metrics.fallback.labels(taken.action).inc()
        return None

    async def _take_over(
        self, tenant_id: str, mine: Claim, abandon: Claim | None, began: float
    ) -> Claim:
        """A later attempt; ``abandon`` is its stale predecessor, which certainly sent nothing."""
        if not await self.sent.insert(tenant_id, mine):
            raise RetryLater("another handler claimed this event first")
        if abandon is not None:
            logger.warning(
                "fallback %s: claim %s replaces stale %s", mine.event_id, mine.id, abandon.id
            )
            try:
                await self.sent.finish(tenant_id, abandon, ABANDONED)
            except Exception:
                await self._release(tenant_id, mine, began)
                raise
        return mine

    async def _attempt(
        self,
        mine: Claim,
        original: Envelope[WeChatMessage],
        reply: Reply,
        now: datetime,
        began: float,
    ) -> str:
        """The checks, then the call: the status to record. A failure before the call
        releases the claim."""
        tenant_id, body = original.tenant_id, cs_message(original.openid, reply)
        try:
            appid = await self._prepare(mine, original, now, began)
        except Refused as refused:
            self._within_lease(began)  # else a later attempt may hold the event by now
            return refused.reason
        except Exception:
            await self._release(tenant_id, mine, began)
            raise
        try:
            await self.wechat.send_custom_message(appid, body)
        except Transient as exc:
            if exc.maybe_delivered:
                return UNKNOWN
            await self._release(tenant_id, mine, began)
            raise RetryLater(f"WeChat unreachable (errcode {exc.errcode})") from exc
        except RateLimited as exc:
            await self._release(tenant_id, mine, began)
            raise RetryLater(f"WeChat's rate limit (errcode {exc.errcode})") from exc
        except WeChatError as exc:
            logger.warning(
                "fallback %s not sent: tenant=%s errcode=%s", original.id, tenant_id, exc.errcode
            )
            return f"refused_{exc.outcome}"
        except PyMongoError:  # the token store: nothing went out
            await self._release(tenant_id, mine, began)
            raise
        except Exception:
            logger.exception(
                "fallback %s: the call failed and may have arrived: tenant=%s",
                original.id,
                tenant_id,
            )
            return UNKNOWN
        return "sent"

    async def _prepare(
        self, mine: Claim, original: Envelope[WeChatMessage], now: datetime, began: float
    ) -> str:
        """Window, quota and account, then ``mine`` marked calling: the appid to call with."""
        tenant_id, asked_at = original.tenant_id, parse_iso(original.occurred_at)
        if outside_window(self.policy, original.type, asked_at, now):
            raise Refused("outside_window")
        limit = quota_limit(self.policy, original.type)
        others = await self.sent.claims_of(tenant_id, original.openid, asked_at)
        verdict = quota_verdict(mine, others, limit, now, self.timing)
        if verdict == "exhausted":
            raise Refused("quota_exhausted")
        if verdict == "wait":
            raise RetryLater("the reader's last message in the quota is in flight")
        account = await self.accounts.account(tenant_id)
        self._within_lease(began)
        await self.sent.mark_calling(tenant_id, mine)
        if not may_call(
            mine, await self.sent.claims_of(tenant_id, original.openid, asked_at), limit
        ):
            raise RetryLater("another send took the reader's last message in the quota")
        self._within_lease(began)
        return account.appid

    def _leased(self, began: float) -> bool:
        """Whether the claim taken at ``began`` (monotonic) is still this handler's alone."""
        return self.monotonic() - began < self.timing.lease.total_seconds()

    def _within_lease(self, began: float) -> None:
        if not self._leased(began):
            raise RetryLater("the claim's lease ran out before the call")

    async def _release(self, tenant_id: str, claim: Claim, began: float) -> None:
        """Nothing went out: the attempt is free again. Not once the lease ran out: a later
        attempt may hold the event by then, and freeing this one would let a third in; the
        claim settles once stale instead (as it does when the release fails)."""
        if not self._leased(began):
            logger.warning("claim %s left to settle: its lease ran out", claim.id)
            return
        try:
            await self.sent.release(tenant_id, claim)
        except PyMongoError as exc:
            logger.warning("claim %s not released (%s)", claim.id, type(exc).__name__)
