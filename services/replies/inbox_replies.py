"""A person's answer to a reader inbox item, through the customer-service API, sent at most
once however many requests race; or the item closed.

An answer, in order: the item (open, its window not closed); a claim in ``replies_sent``
under a unique key (``{event id}~inbox``, then ``~inbox~1``, ... as ``claims.py`` lays out
attempts), so of two concurrent answers one goes on and the other is refused; the item
read again (closed meanwhile?); the reader's quota, which the claim counts toward as a
fallback's does; the claim marked ``calling`` and the quota counted once more; the item
``replying`` (who, what, the note); the call. Then the claim ``sent``, the item
``answered`` and ``reply.sent`` published. When nothing went out, the claim is released
and the item is open again with the error; when WeChat's answer was lost, the claim ends
``unknown`` and the item ``failed``: the message may have arrived, so it is never resent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from services.replies.claims import (
    ABANDONED,
    SENDING,
    UNKNOWN,
    Claim,
    ClaimTiming,
    Taken,
    after_taken,
    may_call,
    quota_verdict,
    stamp,
)
from services.replies.customer_service import QuotaPolicy, cs_message
from services.replies.inbox import (
    ANSWERED,
    FAILED,
    Caller,
    NotOpen,
    check_answerable,
    public,
    to_close,
)
from services.replies.inbox_store import InboxStore
from services.replies.metrics import ReplyMetrics
from services.replies.ports import Accounts, CustomerService, EventSink, SentLog, Timezones
from services.replies.rules import placeholder_values, render
from shared.contracts.envelope import announce, utc_now
from shared.contracts.reply import Reply
from shared.contracts.reply_events import ReplySent
from shared.platform.bus import BrokerUnavailable
from shared.platform.storage import PyMongoError
from shared.wechat.errors import RateLimited, Transient, WeChatError

logger = logging.getLogger(__name__)
INBOX_RULE = "inbox"  # the rule_id of an inbox answer's claim: no rule chose it


def claim_key(event_id: str) -> str:
    """The claims of answers to an item: apart from a fallback's claims on the event."""
    return f"{event_id}~inbox"


class NoItem(LookupError):
    pass


class Busy(Exception):
    """Another answer (to this message, or this reader's last in the quota) is in flight."""


class QuotaExhausted(Exception):
    pass


class NotSent(Exception):
    """Nothing went out; ``retry``: it may go later (WeChat away or rate-limited)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class MaybeSent(Exception):
    """WeChat's answer was lost: the message may have arrived, and is never sent again."""


@dataclass(frozen=True, slots=True)
class Answer:
    tenant_id: str
    event_id: str
    reply: Reply  # validated, placeholders not yet filled
    by: Caller
    note: str | None = None


@dataclass(frozen=True, slots=True)
class InboxReplies:
    inbox: InboxStore
    sent: SentLog
    accounts: Accounts
    wechat: CustomerService
    timezones: Timezones
    events: EventSink
    metrics: ReplyMetrics
    policy: QuotaPolicy
    timing: ClaimTiming = field(default_factory=ClaimTiming)
    clock: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic

    async def _item(self, tenant_id: str, event_id: str) -> dict[str, Any]:
        item = await self.inbox.get(tenant_id, event_id)
        if item is None:
            raise NoItem(f"no inbox message {event_id}")
        return item

    async def answer(self, answer: Answer) -> dict[str, Any]:
        """Sends ``answer``: the item as it is then."""
        tenant_id, event_id, now = answer.tenant_id, answer.event_id, stamp(self.clock())
        item = await self._item(tenant_id, event_id)
        check_answerable(event_id, item["status"], item["window_ends_at"], now)
        began = self.monotonic()
        claim = await self._claim(tenant_id, item, now)
        try:
            appid, reply = await self._prepare(answer, claim, now, began)
            by, note = answer.by.to_json(), answer.note
            await self.inbox.replying(tenant_id, event_id, by=by, note=note, reply=reply.to_json())
        except BaseException:
            await self._release(tenant_id, claim)
            raise
        await self._call(answer, claim, appid, cs_message(item["openid"], reply))
        await self.sent.finish(tenant_id, claim, "sent")
        await self.inbox.answered(tenant_id, event_id, now)
        self.metrics.inbox.labels("answered").inc()
        sent = ReplySent(event_id=event_id, rule_id="", via="customer_service")
        envelope = announce(
            sent, id=f"{event_id}-inbox-sent", tenant_id=tenant_id, at=now, openid=item["openid"]
        )
        try:
            await self.events.publish(envelope)
        except BrokerUnavailable as exc:  # the answer went out: only analytics misses it
            logger.warning("inbox answer %s sent; reply.sent not published (%s)", event_id, exc)
        return public(await self._item(tenant_id, event_id), self.clock())

    async def _claim(self, tenant_id: str, item: dict[str, Any], now: datetime) -> Claim:
        first = Claim(claim_key(str(item["_id"])), 0, item["openid"], INBOX_RULE, now)
        if await self.sent.insert(tenant_id, first):
            return first
        taken = after_taken(await self.sent.attempts(tenant_id, first.event_id), now, self.timing)
        if taken.action == "busy":
            raise Busy("an answer to this message is on its way; try again shortly")
        if taken.action != "claim":
            raise NotOpen(str(item["_id"]), await self._settle(tenant_id, item, taken))
        mine = replace(first, attempt=taken.attempt)
        if not await self.sent.insert(tenant_id, mine):
            raise Busy("another answer to this message was claimed first")
        if taken.abandon is not None:
            try:
                await self.sent.finish(tenant_id, taken.abandon, ABANDONED)
            except BaseException:
                await self._release(tenant_id, mine)
                raise
        return mine

    async def _settle(self, tenant_id: str, item: dict[str, Any], taken: Taken) -> str:
        """An earlier answer got as far as the call, and its holder is gone: the item ends
        as that answer did (``answered`` or ``failed``); answers the status."""
        latest, event_id = taken.latest, str(item["_id"])
        if latest is None:
            return str(item["status"])
        if taken.action in (UNKNOWN, "gave_up"):
            await self.sent.finish(tenant_id, latest, taken.action)
        if latest.status == "sent":
            await self.inbox.answered(tenant_id, event_id, latest.at)
            return ANSWERED
        await self.inbox.failed(tenant_id, event_id, "an earlier answer may have arrived")
        return FAILED

    async def _prepare(
        self, answer: Answer, claim: Claim, now: datetime, began: float
    ) -> tuple[str, Reply]:
        """The item still answerable, the quota, the claim marked calling: the appid to
        call with and the reply with its placeholders filled."""
        tenant_id, event_id = answer.tenant_id, answer.event_id
        item = await self._item(tenant_id, event_id)
        check_answerable(event_id, item["status"], item["window_ends_at"], now)
        openid, asked_at, limit = item["openid"], item["occurred_at"], self.policy.message_limit
        others = await self.sent.claims_of(tenant_id, openid, asked_at)
        verdict = quota_verdict(claim, others, limit, now, self.timing)
        if verdict == "exhausted":
            raise QuotaExhausted(f"the reader has had {limit} messages since this one")
        if verdict == "wait":
            raise Busy("another message to this reader is on its way; try again shortly")
        appid = (await self.accounts.account(tenant_id)).appid
        local = now.astimezone(ZoneInfo(await self.timezones.timezone(tenant_id)))
        keyword = str(item.get("message", {}).get("content", ""))
        reply = render(answer.reply, placeholder_values(openid, keyword, local))
        self._within_lease(began)
        await self.sent.mark_calling(tenant_id, claim)
        if not may_call(claim, await self.sent.claims_of(tenant_id, openid, asked_at), limit):
            raise Busy("another message took the reader's last one in the quota; try again")
        self._within_lease(began)
        return appid, reply

    def _within_lease(self, began: float) -> None:
        if self.monotonic() - began >= self.timing.lease.total_seconds():
            raise NotSent("the database was too slow to send safely; try again", retry=True)

    async def _call(self, answer: Answer, claim: Claim, appid: str, body: dict[str, Any]) -> None:
        """The call; on failure, the claim and the item settled and the error raised."""
        try:
            await self.wechat.send_custom_message(appid, body)
        except Transient as exc:
            if not exc.maybe_delivered:
                why = f"WeChat unreachable (errcode {exc.errcode})"
                await self._not_sent(answer, claim, why, True)
            await self._lost(answer, claim, f"WeChat's answer was lost (errcode {exc.errcode})")
        except RateLimited as exc:
            why = f"WeChat's rate limit (errcode {exc.errcode})"
            await self._not_sent(answer, claim, why, True)
        except WeChatError as exc:
            why = f"WeChat refused it: errcode {exc.errcode} ({exc.outcome}): {exc.errmsg}"
            await self._not_sent(answer, claim, why, False)
        except PyMongoError as exc:  # the token store: nothing went out
            await self._not_sent(answer, claim, f"database: {type(exc).__name__}", True)
        except Exception as exc:
            logger.exception("inbox answer %s: the call failed and may have arrived", claim.id)
            await self._lost(answer, claim, f"the call failed ({type(exc).__name__})")

    async def _not_sent(self, answer: Answer, claim: Claim, why: str, retry: bool) -> NoReturn:
        await self._release(answer.tenant_id, claim)
        await self.inbox.reopen(answer.tenant_id, answer.event_id, why)
        self.metrics.inbox.labels("refused").inc()
        raise NotSent(f"not sent: {why}", retry=retry)

    async def _lost(self, answer: Answer, claim: Claim, why: str) -> NoReturn:
        await self.sent.finish(answer.tenant_id, claim, UNKNOWN)
        why = f"{why}: it may have arrived, so it is not sent again"
        await self.inbox.failed(answer.tenant_id, answer.event_id, why)
        self.metrics.inbox.labels("failed").inc()
        raise MaybeSent(why)

    async def _release(self, tenant_id: str, claim: Claim) -> None:
        """Nothing went out: the claim goes (one left behind settles once stale)."""
        try:
            await self.sent.release(tenant_id, claim)
        except PyMongoError as exc:
            logger.warning("inbox claim %s not released (%s)", claim.id, type(exc).__name__)

    async def close(
        self, tenant_id: str, event_id: str, by: Caller, note: str | None
    ) -> dict[str, Any]:
        """Closes an open or failed item (a closed one stays as it is)."""
        now = self.clock()
        item = await self._item(tenant_id, event_id)
        if to_close(event_id, item["status"]):
            attempts = await self.sent.attempts(tenant_id, claim_key(event_id))
            if any(claim.status == SENDING for claim in attempts):
                raise Busy("an answer to this message is on its way")
            closed = await self.inbox.close(tenant_id, event_id, by=by.to_json(), note=note, at=now)
            if closed:
                self.metrics.inbox.labels("closed").inc()
            else:  # changed meanwhile
                to_close(event_id, (await self._item(tenant_id, event_id))["status"])
        return public(await self._item(tenant_id, event_id), now)
