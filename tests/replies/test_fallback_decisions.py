"""The fallback through the customer-service API (claim, window and quota, send at most
once, every fallback ending sent, refused or unknown), against in-memory fakes of its
ports and a clock the test moves: no broker, no database, no WeChat."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from services.replies.claims import CALLING, CHECKING, Claim, ClaimTiming, stamp
from services.replies.customer_service import QuotaPolicy
from services.replies.fallback import AtOnce, Fallbacks
from services.replies.matching import RuleSet
from services.replies.metrics import ReplyMetrics
from services.replies.validation import validate_rule
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplyFallback, ReplySent, fallback_of
from shared.platform.delivery import Deferred, Delivery, RetryLater
from shared.platform.tenant_records import TenantAccount
from shared.wechat.errors import (
    InvalidMedia,
    NotFollowing,
    OutOfWindow,
    RateLimited,
    Transient,
    UserBlocked,
    WeChatError,
)
from tests.replies.fake_sent_log import FakeSentLog
from tests.support.fakes import (
    OPENID,
    RULES,
    TENANT,
    FakeAccounts,
    FakeCustomerService,
    FakeEventSink,
    FakeRuleSource,
    FakeUnanswered,
    database_down,
    message,
)

PRICE = f"10 yuan, {OPENID}"
TIMING = ClaimTiming(lease=timedelta(seconds=10), stale=timedelta(seconds=30))
FINAL = {"sent", "unknown", "outside_window", "quota_exhausted", "gave_up"}


@dataclass
class Clock:
    """The wall clock and the monotonic clock, moved together by the test."""

    wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


def count(metric: Any, label: str) -> float:
    value: float = metric.labels(label)._value.get()
    return value


@dataclass
class Fallback:
    sent: FakeSentLog
    wechat: FakeCustomerService
    events: FakeEventSink
    metrics: ReplyMetrics
    clock: Clock
    handler: Fallbacks

    async def settle(self, delivery: Delivery[ReplyFallback], *, rounds: int = 10) -> int:
        """Handles ``delivery`` as the queue would: again after each RetryLater, the retry
        delay (10 s) apart. Returns the number of retries it took."""
        for retries in range(rounds):
            try:
                await self.handler.handle(delivery)
            except RetryLater:
                self.clock.advance(10)
                continue
            return retries
        raise AssertionError(f"still retrying after {rounds} rounds")


def fallbacks(
    *,
    policy: QuotaPolicy | None = None,
    sent: FakeSentLog | None = None,
    accounts: Any = None,
    wechat: Any = None,
    clock: Clock | None = None,
    at_once: AtOnce | None = None,
) -> Fallback:
    rules = RuleSet.compile([validate_rule(r) for r in RULES], tz=ZoneInfo("Asia/Shanghai"))
    sent, wechat, events = sent or FakeSentLog(), wechat or FakeCustomerService(), FakeEventSink()
    clock = clock or Clock()
    metrics = ReplyMetrics.create(CollectorRegistry())
    handler = Fallbacks(
        rules=FakeRuleSource(sets={TENANT: rules}),
        unanswered=FakeUnanswered(),
        sent=sent,
        accounts=accounts or FakeAccounts(),
        wechat=wechat,
        events=events,
        metrics=metrics,
        policy=policy or QuotaPolicy(),
        rng=random.Random(1),
        at_once=at_once or AtOnce(8),
        timing=TIMING,
        clock=clock.now,
        monotonic=clock.monotonic,
    )
    return Fallback(sent, wechat, events, metrics, clock, handler)


def fallback_for(event: Envelope[WeChatMessage]) -> Delivery[ReplyFallback]:
    return Delivery(fallback_of(event, "deadline", now=datetime.now(UTC)))


def claim(
    event_id: str,
    *,
    ago: float,
    stage: str,
    attempt: int = 0,
    status: str = "sending",
    openid: str = OPENID,
) -> Claim:
    """A claim stored ``ago`` seconds before now."""
    at = stamp(datetime.now(UTC) - timedelta(seconds=ago))
    return Claim(event_id, attempt, openid, "r-price", at, status=status, stage=stage)


# --- the plain paths -------------------------------------------------------------------


async def test_without_a_matching_rule_nothing_is_claimed_and_the_inbox_keeps_it() -> None:
    f = fallbacks()
    event = message("m-weather", content="weather?")

    await f.handler.handle(fallback_for(event))
    await f.handler.handle(fallback_for(event))  # redelivered: kept once

    assert f.sent.claims == {}
    assert f.wechat.attempts == 0
    assert count(f.metrics.fallback, "no_rule") == 2
    inbox = f.handler.unanswered
    assert isinstance(inbox, FakeUnanswered)
    assert list(inbox.recorded) == ["m-weather"]
    assert count(f.metrics.inbox, "recorded") == 1


async def test_an_inbox_away_sends_the_fallback_back_for_later() -> None:
    f = fallbacks()
    inbox = f.handler.unanswered
    assert isinstance(inbox, FakeUnanswered)
    inbox.down = True

    with pytest.raises(RetryLater):
        await f.handler.handle(fallback_for(message("m-later", content="weather?")))
    assert f.sent.claims == {}


async def test_sent_ends_sent_and_publishes_reply_sent() -> None:
    f = fallbacks()
    event = message()

    await f.handler.handle(fallback_for(event))

    assert f.wechat.delivered == [
        (f"wx_{TENANT}", {"touser": OPENID, "msgtype": "text", "text": {"content": PRICE}})
    ]
    assert f.sent.status(TENANT, event.id) == "sent"
    [sent] = f.events.published
    assert sent.id == f"{event.id}-sent"
    assert sent.payload == ReplySent(event.id, "r-price", "customer_service")
    assert count(f.metrics.fallback, "sent") == 1


async def test_redelivered_after_sending_sends_nothing_more() -> None:
    f = fallbacks()
    delivery = fallback_for(message())
    await f.handler.handle(delivery)

    await f.handler.handle(delivery)

    assert len(f.wechat.delivered) == 1
    assert len(f.events.published) == 1
    assert count(f.metrics.fallback, "duplicate") == 1


@pytest.mark.parametrize(
    ("kind", "fields", "age"),
    [
        ("msg.text", {"content": "price"}, timedelta(hours=49)),
        ("event.click", {"event_key": "MENU_1"}, timedelta(minutes=2)),
    ],
)
async def test_out_of_window_is_recorded_and_not_sent(
    kind: str, fields: dict[str, Any], age: timedelta
) -> None:
    f = fallbacks()
    event = message(kind=kind, fields=fields, occurred=datetime.now(UTC) - age)

    await f.handler.handle(fallback_for(event))

    assert f.wechat.attempts == 0
    assert f.sent.status(TENANT, event.id) == "outside_window"
    assert f.events.published == []


@pytest.mark.parametrize("spent", ["sent", "unknown"])
async def test_over_the_quota_is_recorded_and_not_sent(spent: str) -> None:
    f = fallbacks(policy=QuotaPolicy(message_limit=2))
    event = message(occurred=datetime.now(UTC) - timedelta(hours=1))
    for earlier in ("e1", "e2"):
        f.sent.put(TENANT, claim(earlier, ago=60, stage=CALLING, status=spent))

    await f.handler.handle(fallback_for(event))

    assert f.wechat.attempts == 0
    assert f.sent.status(TENANT, event.id) == "quota_exhausted"
    assert count(f.metrics.fallback, "quota_exhausted") == 1


async def test_the_quota_counts_only_this_reader_since_the_message() -> None:
    f = fallbacks(policy=QuotaPolicy(message_limit=2))
    event = message(occurred=datetime.now(UTC) - timedelta(hours=1))
    f.sent.put(TENANT, claim("old", ago=7200, stage=CALLING, status="sent"))
    f.sent.put(TENANT, claim("other", ago=60, stage=CALLING, status="sent", openid="o_other"))
    f.sent.put(TENANT, claim("refused", ago=60, stage=CALLING, status="refused_user_blocked"))

    await f.handler.handle(fallback_for(event))

    assert f.sent.status(TENANT, event.id) == "sent"


@pytest.mark.parametrize(
    ("refusal", "outcome"),
    [
        (NotFollowing(43004, "require subscribe"), "refused_not_following"),
        (UserBlocked(43019, "in blacklist"), "refused_user_blocked"),
        (OutOfWindow(45015, "response out of time limit"), "refused_out_of_window"),
        (InvalidMedia(40007, "invalid media_id"), "refused_invalid_media"),
        (WeChatError(99999, "something new"), "refused_error"),
    ],
)
async def test_refused_by_wechat_is_recorded_with_its_outcome(
    refusal: WeChatError, outcome: str, caplog: pytest.LogCaptureFixture
) -> None:
    f = fallbacks()
    f.wechat.failures.append(refusal)
    delivery = fallback_for(message())

    await f.handler.handle(delivery)
    await f.handler.handle(delivery)

    assert f.wechat.attempts == 1
    assert f.sent.status(TENANT, delivery.envelope.payload.event.id) == outcome
    assert f.events.published == []
    # what an SRE greps for under WxpFallbacksUndelivered (deploy/k8s/RUNBOOK.md)
    assert f"tenant={TENANT} errcode={refusal.errcode}" in caplog.text


async def test_maybe_delivered_is_unknown_and_never_resent() -> None:
    f = fallbacks()
    f.wechat.failures.append(Transient(-2, "timeout", maybe_delivered=True))
    delivery = fallback_for(message())

    await f.handler.handle(delivery)
    await f.handler.handle(delivery)  # a redelivery, or WeChat's retry of the message

    assert f.wechat.attempts == 1
    assert f.sent.status(TENANT, delivery.envelope.payload.event.id) == "unknown"
    assert f.events.published == []
    assert count(f.metrics.fallback, "duplicate") == 1


class Unexpected(Exception):
    pass


async def test_an_unexpected_failure_of_the_call_is_unknown_and_never_resent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    f = fallbacks()
    f.wechat.failures.append(Unexpected("the socket said something odd"))
    delivery = fallback_for(message())

    await f.handler.handle(delivery)
    await f.handler.handle(delivery)

    assert f.wechat.attempts == 1
    assert f.sent.status(TENANT, delivery.envelope.payload.event.id) == "unknown"
    assert f"may have arrived: tenant={TENANT}" in caplog.text


# --- what certainly sent nothing comes back later, released ---------------------------


@pytest.mark.parametrize(
    "failure",
    [RateLimited(45011, "api minute quota reached"), Transient(-2, "cannot connect")],
    ids=["rate_limited", "certainly_not_sent"],
)
async def test_a_call_that_certainly_sent_nothing_is_released_and_retried_later(
    failure: WeChatError,
) -> None:
    f = fallbacks()
    f.wechat.failures.append(failure)
    delivery = fallback_for(message())

    with pytest.raises(RetryLater):  # the queue's delayed retry, not an immediate requeue
        await f.handler.handle(delivery)
    assert f.sent.claims == {}

    await f.handler.handle(delivery)  # the retry, after the delay
    assert len(f.wechat.delivered) == 1
    assert count(f.metrics.fallback, "sent") == 1


class FlakyAccounts(FakeAccounts):
    """Its first ``account`` finds the database away."""

    def __init__(self) -> None:
        self.failures = 1

    async def account(self, tenant_id: str) -> TenantAccount:
        if self.failures:
            self.failures -= 1
            raise database_down()
        return await super().account(tenant_id)


@pytest.mark.parametrize("flaky", ["claims_of", "mark_calling", "account", "insert"])
async def test_a_database_error_before_the_call_releases_and_is_retried_later(flaky: str) -> None:
    sent = FakeSentLog(failing={} if flaky == "account" else {flaky: 1})
    f = fallbacks(sent=sent, accounts=FlakyAccounts() if flaky == "account" else None)
    delivery = fallback_for(message())

    with pytest.raises(RetryLater):
        await f.handler.handle(delivery)
    assert f.sent.claims == {}  # released (or, for the insert, never taken)
    await f.handler.handle(delivery)

    assert len(f.wechat.delivered) == 1
    assert f.sent.status(TENANT, delivery.envelope.payload.event.id) == "sent"


async def test_the_rules_unreachable_is_retried_later_and_claims_nothing() -> None:
    f = fallbacks()
    assert isinstance(f.handler.rules, FakeRuleSource)
    f.handler.rules.error = database_down()

    with pytest.raises(RetryLater):
        await f.handler.handle(fallback_for(message()))

    assert f.sent.claims == {}
    assert f.wechat.attempts == 0


async def test_a_claim_left_sending_by_a_database_outage_is_taken_over_once_stale() -> None:
    # The database goes away after the claim: the quota lookup fails, and so does the
    # release. The claim stays ``sending``; it must not pass for a duplicate for ever.
    f = fallbacks(sent=FakeSentLog(failing={"claims_of": 1, "release": 1}))
    delivery = fallback_for(message())
    event_id = delivery.envelope.payload.event.id

    with pytest.raises(RetryLater):
        await f.handler.handle(delivery)
    assert f.sent.status(TENANT, event_id) == "sending"

    retries = await f.settle(delivery)  # busy while fresh, taken over once stale

    assert retries == 4  # retried every 10 s: at 40 s, the first look past 30 s (stale)
    assert len(f.wechat.delivered) == 1
    assert [(c.id, c.status) for c in f.sent.of_event(TENANT, event_id)] == [
        (event_id, "abandoned"),
        (f"{event_id}~1", "sent"),
    ]
    assert count(f.metrics.fallback, "duplicate") == 0


async def test_a_claim_in_flight_elsewhere_is_retried_later_not_taken_as_a_duplicate() -> None:
    f = fallbacks()
    event = message()
    f.sent.put(TENANT, claim(event.id, ago=1, stage=CHECKING))

    with pytest.raises(RetryLater):
        await f.handler.handle(fallback_for(event))

    f.sent.put(TENANT, claim(event.id, ago=1, stage=CALLING, status="sent"))  # it got there
    await f.handler.handle(fallback_for(event))
    assert f.wechat.attempts == 0
    assert count(f.metrics.fallback, "duplicate") == 1


async def test_a_stale_claim_that_may_have_called_ends_unknown_and_is_never_resent() -> None:
    f = fallbacks()
    f.sent.put(TENANT, claim("m1", ago=31, stage=CALLING))  # its holder died calling WeChat

    await f.handler.handle(fallback_for(message("m1")))

    assert f.wechat.attempts == 0
    assert f.sent.status(TENANT, "m1") == "unknown"
    assert count(f.metrics.fallback, "unknown") == 1


async def test_a_stale_claim_still_checking_is_taken_over_and_sent_once() -> None:
    f = fallbacks()
    f.sent.put(TENANT, claim("m1", ago=31, stage=CHECKING))

    await f.handler.handle(fallback_for(message("m1")))

    assert len(f.wechat.delivered) == 1
    assert f.sent.status(TENANT, "m1") == "abandoned"
    assert f.sent.status(TENANT, "m1~1") == "sent"


async def test_after_the_last_attempt_a_stale_claim_gives_up() -> None:
    f = fallbacks()
    for attempt in range(7):
        f.sent.put(
            TENANT, claim("m1", ago=300, stage=CHECKING, attempt=attempt, status="abandoned")
        )
    f.sent.put(TENANT, claim("m1", ago=31, stage=CHECKING, attempt=7))

    await f.handler.handle(fallback_for(message("m1")))

    assert f.wechat.attempts == 0
    assert f.sent.status(TENANT, "m1~7") == "gave_up"


class SlowAccounts(FakeAccounts):
    """Its lookup takes ``seconds`` on the test's clock."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds

    async def account(self, tenant_id: str) -> TenantAccount:
        self.clock.advance(self.seconds)
        return await super().account(tenant_id)


async def test_a_holder_whose_lease_ran_out_neither_calls_nor_frees_its_claim() -> None:
    clock = Clock()
    accounts = SlowAccounts(clock, 11)
    f = fallbacks(clock=clock, accounts=accounts)
    delivery = fallback_for(message())
    event_id = delivery.envelope.payload.event.id

    with pytest.raises(RetryLater):
        await f.handler.handle(delivery)
    assert f.wechat.attempts == 0
    assert f.sent.status(TENANT, event_id) == "sending"  # left to settle once stale

    accounts.seconds = 0
    await f.settle(delivery)
    assert len(f.wechat.delivered) == 1
    assert f.sent.status(TENANT, f"{event_id}~1") == "sent"


class StallingSentLog(FakeSentLog):
    """Its first quota lookup stalls past the stale age (while ``meanwhile`` runs: another
    replica at work), then finds the database away."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.meanwhile: Any = None

    async def claims_of(self, tenant_id: str, openid: str, since: datetime) -> list[Claim]:
        if self.meanwhile is not None:
            work, self.meanwhile = self.meanwhile, None
            self.clock.advance(40)
            await work()
            raise database_down()
        return await super().claims_of(tenant_id, openid, since)


async def test_a_stalled_holder_does_not_free_an_event_another_replica_took_over() -> None:
    clock = Clock()
    sent = StallingSentLog(clock)
    stalled = fallbacks(sent=sent, clock=clock)
    other = fallbacks(sent=sent, clock=clock, wechat=stalled.wechat)  # another replica
    delivery = fallback_for(message())
    sent.meanwhile = lambda: other.handler.handle(delivery)  # takes the stale claim over

    with pytest.raises(RetryLater):
        await stalled.handler.handle(delivery)
    await stalled.handler.handle(delivery)  # the stalled holder's message, redelivered

    assert len(stalled.wechat.delivered) == 1
    event_id = delivery.envelope.payload.event.id
    assert [(c.id, c.status) for c in sent.of_event(TENANT, event_id)] == [
        (event_id, "abandoned"),
        (f"{event_id}~1", "sent"),
    ]


async def test_a_send_whose_outcome_was_not_stored_ends_unknown_not_twice() -> None:
    f = fallbacks(sent=FakeSentLog(failing={"finish": 1}))
    delivery = fallback_for(message())

    with pytest.raises(RetryLater):
        await f.handler.handle(delivery)
    await f.settle(delivery)

    assert len(f.wechat.delivered) == 1
    assert f.sent.status(TENANT, delivery.envelope.payload.event.id) == "unknown"


# --- the quota under concurrency -------------------------------------------------------


async def test_a_send_in_flight_for_the_same_reader_holds_the_last_message() -> None:
    f = fallbacks(policy=QuotaPolicy(message_limit=1))
    f.sent.put(TENANT, claim("other", ago=1, stage=CALLING))  # another event, being sent
    delivery = fallback_for(message(occurred=datetime.now(UTC) - timedelta(minutes=5)))

    with pytest.raises(RetryLater):
        await f.handler.handle(delivery)
    assert f.sent.claims.keys() == {(TENANT, "other")}

    f.sent.put(TENANT, claim("other", ago=1, stage=CALLING, status="sent"))
    await f.handler.handle(delivery)
    assert f.wechat.attempts == 0
    assert f.sent.status(TENANT, delivery.envelope.payload.event.id) == "quota_exhausted"


async def test_every_fallback_ends_sent_refused_or_unknown() -> None:
    f = fallbacks(policy=QuotaPolicy(message_limit=2), sent=FakeSentLog(failing={"claims_of": 2}))
    f.wechat.failures.extend(
        [RateLimited(45009, "daily"), Transient(-2, "t", maybe_delivered=True)]
    )
    deliveries = [fallback_for(message(f"m{n}")) for n in range(5)]

    for delivery in deliveries:
        await f.settle(delivery)

    statuses = [c.status for c in f.sent.claims.values()]
    assert set(statuses) <= FINAL
    assert len(statuses) == 5
    assert len(f.wechat.delivered) <= 2


@dataclass
class HangingCustomerService:
    """WeChat's customer-service API hanging until ``answer`` is set; ``two_waiting`` is
    set once two calls hang."""

    answer: asyncio.Event = field(default_factory=asyncio.Event)
    two_waiting: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    async def send_custom_message(self, appid: str, payload: dict[str, Any]) -> Any:
        self.waiting += 1
        if self.waiting == 2:
            self.two_waiting.set()
        await self.answer.wait()
        self.waiting -= 1
        return {"errcode": 0, "errmsg": "ok"}


async def test_fallbacks_past_the_limit_go_back_for_later_while_wechat_hangs() -> None:
    wechat = HangingCustomerService()
    f = fallbacks(wechat=wechat, at_once=AtOnce(2))
    hanging = [
        asyncio.create_task(f.handler.handle(fallback_for(message(f"m-{n}")))) for n in (1, 2)
    ]
    await asyncio.wait_for(wechat.two_waiting.wait(), 5)

    with pytest.raises(Deferred, match="2 fallbacks already at work"):
        await f.handler.handle(fallback_for(message("m-3")))
    assert f.sent.status(TENANT, "m-3") is None  # not claimed: its retry starts afresh
    assert count(f.metrics.fallback, "deferred") == 1

    wechat.answer.set()
    await asyncio.gather(*hanging)
    await f.handler.handle(fallback_for(message("m-3")))  # places free again
    assert [f.sent.status(TENANT, event_id) for event_id in ("m-1", "m-2", "m-3")] == ["sent"] * 3


async def test_a_failing_fallback_gives_its_place_back() -> None:
    unreachable = FakeCustomerService(failures=[Transient(-2, "cannot connect")])
    f = fallbacks(wechat=unreachable, at_once=AtOnce(1))
    with pytest.raises(RetryLater):
        await f.handler.handle(fallback_for(message("m-1")))
    await f.handler.handle(fallback_for(message("m-2")))
    assert f.sent.status(TENANT, "m-2") == "sent"
