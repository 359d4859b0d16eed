"""The replies service's decisions: the passive answer, and the fallback through the
customer-service API (claim, window and quota, send at most once), against in-memory
fakes of its ports: no broker, no database, no WeChat."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from services.replies.customer_service import QuotaPolicy
from services.replies.handlers import Fallbacks, PassiveReplies, deadline_passed
from services.replies.matching import RuleSet
from services.replies.metrics import ReplyMetrics
from services.replies.validation import validate_rule
from shared.contracts.envelope import REPLY_DEADLINE_HEADER, Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer, Reply
from shared.contracts.reply_events import ReplyFallback, ReplySent, fallback_of
from shared.platform.delivery import Delivery
from shared.platform.storage import PyMongoError
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
from tests.support.fakes import (
    OPENID,
    TENANT,
    FakeAccounts,
    FakeCustomerService,
    FakeEventSink,
    FakeRuleSource,
    FakeSentLog,
    Responses,
    SentRecord,
    database_down,
    message,
)

RULES: list[dict[str, Any]] = [
    {
        "id": "r-price",
        "name": "price",
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": "exact", "pattern": "price"},
        "reply": {"type": "text", "content": "10 yuan, {openid}"},
    },
    {
        "id": "r-menu",
        "name": "menu",
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "click", "key": "MENU_1"},
        "reply": {"type": "text", "content": "the menu"},
    },
]
PRICE = Reply("text", content=f"10 yuan, {OPENID}")


def rule_source() -> FakeRuleSource:
    rules = RuleSet.compile([validate_rule(r) for r in RULES], tz=ZoneInfo("Asia/Shanghai"))
    return FakeRuleSource(sets={TENANT: rules})


def count(metric: Any, label: str) -> float:
    value: float = metric.labels(label)._value.get()
    return value


# --- passive replies -----------------------------------------------------------------


@dataclass
class Passive:
    rules: FakeRuleSource
    metrics: ReplyMetrics
    handler: PassiveReplies


def passive() -> Passive:
    rules, metrics = rule_source(), ReplyMetrics.create(CollectorRegistry())
    return Passive(
        rules, metrics, PassiveReplies(rules=rules, metrics=metrics, rng=random.Random(1))
    )


def waited_for(
    event: Envelope[WeChatMessage], responses: Responses, *, in_ms: int = 3000
) -> Delivery[WeChatMessage]:
    deadline = int(time.time() * 1000) + in_ms
    return Delivery(event, headers={REPLY_DEADLINE_HEADER: deadline}, respond=responses)


async def test_passive_no_reply_wanted_sends_nothing() -> None:
    p = passive()

    await p.handler.handle(Delivery(message()))  # published without a reply-to

    assert p.rules.reads == 0
    assert all(not metric.samples for metric in p.metrics.passive.collect())  # not counted


@pytest.mark.parametrize(
    "headers",
    [
        {REPLY_DEADLINE_HEADER: int(time.time() * 1000) - 1},
        {},  # no deadline: nobody can still be waiting
        {REPLY_DEADLINE_HEADER: "9999999999999"},
    ],
)
async def test_passive_deadline_passed_is_counted_late_and_sends_nothing(
    headers: dict[str, object],
) -> None:
    p, responses = passive(), Responses()

    await p.handler.handle(Delivery(message(), headers=headers, respond=responses))

    assert responses.bodies == []
    assert count(p.metrics.passive, "late") == 1
    assert p.rules.reads == 0


async def test_passive_matching_rule_answers_with_its_rule_id() -> None:
    p, responses = passive(), Responses()

    await p.handler.handle(waited_for(message(content="price"), responses))

    [body] = responses.bodies
    assert PassiveAnswer.decode(body) == PassiveAnswer(PRICE, "r-price")
    assert count(p.metrics.passive, "rule") == 1


async def test_passive_no_matching_rule_answers_none() -> None:
    p, responses = passive(), Responses()

    await p.handler.handle(waited_for(message(content="weather?"), responses))

    assert [PassiveAnswer.decode(body) for body in responses.bodies] == [PassiveAnswer()]
    assert responses.bodies == [b'{"type":"none"}']
    assert count(p.metrics.passive, "none") == 1


@pytest.mark.parametrize("error", [database_down(), LookupError("no tenant acme")])
async def test_passive_rules_unavailable_answer_none_with_outcome_error(error: Exception) -> None:
    p, responses = passive(), Responses()
    p.rules.error = error

    await p.handler.handle(waited_for(message(content="price"), responses))

    assert responses.bodies == [b'{"type":"none"}']
    assert count(p.metrics.passive, "error") == 1


@pytest.mark.parametrize(
    ("headers", "passed"),
    [
        ({REPLY_DEADLINE_HEADER: 1001}, False),
        ({REPLY_DEADLINE_HEADER: 1000}, True),
        ({REPLY_DEADLINE_HEADER: 999}, True),
        ({REPLY_DEADLINE_HEADER: 1001.5}, True),  # not the gateway's int: not trusted
        ({}, True),
    ],
)
def test_deadline_passed(headers: dict[str, object], passed: bool) -> None:
    assert deadline_passed(headers, now_ms=1000) is passed


# --- fallbacks -----------------------------------------------------------------------


@dataclass
class Fallback:
    rules: FakeRuleSource
    sent: FakeSentLog
    wechat: FakeCustomerService
    events: FakeEventSink
    metrics: ReplyMetrics
    handler: Fallbacks


def fallbacks(
    *, policy: QuotaPolicy | None = None, sent: FakeSentLog | None = None, accounts: Any = None
) -> Fallback:
    rules, wechat, events = rule_source(), FakeCustomerService(), FakeEventSink()
    sent = sent or FakeSentLog()
    metrics = ReplyMetrics.create(CollectorRegistry())
    handler = Fallbacks(
        rules=rules,
        sent=sent,
        accounts=accounts or FakeAccounts(),
        wechat=wechat,
        events=events,
        metrics=metrics,
        policy=policy or QuotaPolicy(),
        rng=random.Random(1),
    )
    return Fallback(rules, sent, wechat, events, metrics, handler)


def fallback_for(event: Envelope[WeChatMessage]) -> Delivery[ReplyFallback]:
    return Delivery(fallback_of(event, "deadline", now=datetime.now(UTC)))


async def test_fallback_without_a_matching_rule_claims_nothing() -> None:
    f = fallbacks()

    await f.handler.handle(fallback_for(message(content="weather?")))

    assert f.sent.records == {}
    assert f.wechat.attempts == 0
    assert count(f.metrics.fallback, "no_rule") == 1


async def test_fallback_whose_claim_is_taken_sends_nothing() -> None:
    f = fallbacks()
    event = message()
    await f.sent.claim(TENANT, event.id, openid=OPENID, rule_id="r-price", at=datetime.now(UTC))

    await f.handler.handle(fallback_for(event))

    assert f.wechat.attempts == 0
    assert f.events.published == []
    assert count(f.metrics.fallback, "duplicate") == 1


async def test_fallback_sent_finishes_sent_and_publishes_reply_sent() -> None:
    f = fallbacks()
    event = message()

    await f.handler.handle(fallback_for(event))

    assert f.wechat.delivered == [
        (f"wx_{TENANT}", {"touser": OPENID, "msgtype": "text", "text": {"content": PRICE.content}})
    ]
    assert f.sent.status(TENANT, event.id) == "sent"
    [sent] = f.events.published
    assert sent.id == f"{event.id}-sent"
    assert sent.payload == ReplySent(event.id, "r-price", "customer_service")
    assert count(f.metrics.fallback, "sent") == 1


async def test_fallback_redelivered_after_sending_sends_nothing_more() -> None:
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
async def test_fallback_out_of_window_is_recorded_and_not_sent(
    kind: str, fields: dict[str, Any], age: timedelta
) -> None:
    f = fallbacks()
    event = message(kind=kind, fields=fields, occurred=datetime.now(UTC) - age)

    await f.handler.handle(fallback_for(event))

    assert f.wechat.attempts == 0
    assert f.sent.status(TENANT, event.id) == "outside_window"
    assert f.events.published == []
    assert count(f.metrics.fallback, "outside_window") == 1


async def test_fallback_over_the_quota_is_recorded_and_not_sent() -> None:
    f = fallbacks(policy=QuotaPolicy(message_limit=2))
    event = message(occurred=datetime.now(UTC) - timedelta(hours=1))
    for earlier in ("e1", "e2"):
        f.sent.records[TENANT, earlier] = SentRecord(OPENID, "r-price", datetime.now(UTC), "sent")

    await f.handler.handle(fallback_for(event))

    assert f.wechat.attempts == 0
    assert f.sent.status(TENANT, event.id) == "quota_exhausted"
    assert count(f.metrics.fallback, "quota_exhausted") == 1


async def test_fallback_quota_counts_only_what_was_sent_since_the_message() -> None:
    f = fallbacks(policy=QuotaPolicy(message_limit=2))
    event = message(occurred=datetime.now(UTC) - timedelta(hours=1))
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    f.sent.records[TENANT, "old"] = SentRecord(OPENID, "r-price", long_ago, "sent")
    f.sent.records[TENANT, "other"] = SentRecord("o_other", "r-price", datetime.now(UTC), "sent")

    await f.handler.handle(fallback_for(event))

    assert f.sent.status(TENANT, event.id) == "sent"


async def test_fallback_maybe_delivered_is_unknown_and_never_resent() -> None:
    f = fallbacks()
    f.wechat.failures.append(Transient(-2, "timeout", maybe_delivered=True))
    delivery = fallback_for(message())

    await f.handler.handle(delivery)
    await f.handler.handle(delivery)  # a redelivery, or WeChat's retry of the message

    assert f.wechat.attempts == 1
    assert f.sent.status(TENANT, delivery.envelope.payload.event.id) == "unknown"
    assert f.events.published == []
    assert count(f.metrics.fallback, "unknown") == 1
    assert count(f.metrics.fallback, "duplicate") == 1


@pytest.mark.parametrize(
    "failure",
    [RateLimited(45011, "api minute quota reached"), Transient(-2, "cannot connect")],
    ids=["rate_limited", "certainly_not_sent"],
)
async def test_fallback_that_certainly_sent_nothing_unclaims_and_raises_for_a_retry(
    failure: WeChatError,
) -> None:
    f = fallbacks()
    f.wechat.failures.append(failure)
    delivery = fallback_for(message())

    with pytest.raises(type(failure)):
        await f.handler.handle(delivery)
    assert f.sent.records == {}

    await f.handler.handle(delivery)  # the queue's retry
    assert len(f.wechat.delivered) == 1
    assert count(f.metrics.fallback, "sent") == 1


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
async def test_fallback_refused_by_wechat_is_recorded_with_its_outcome(
    refusal: WeChatError, outcome: str
) -> None:
    f = fallbacks()
    f.wechat.failures.append(refusal)
    delivery = fallback_for(message())

    await f.handler.handle(delivery)
    await f.handler.handle(delivery)

    assert f.wechat.attempts == 1
    assert f.sent.status(TENANT, delivery.envelope.payload.event.id) == outcome
    assert f.events.published == []
    assert count(f.metrics.fallback, outcome) == 1


class FlakySentLog(FakeSentLog):
    """Its first ``sent_since`` finds the database away."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def sent_since(self, tenant_id: str, openid: str, since: datetime) -> int:
        if self.failures:
            self.failures -= 1
            raise database_down()
        return await super().sent_since(tenant_id, openid, since)


class FlakyAccounts(FakeAccounts):
    """Its first ``account`` finds the database away."""

    def __init__(self) -> None:
        self.failures = 1

    async def account(self, tenant_id: str) -> TenantAccount:
        if self.failures:
            self.failures -= 1
            raise database_down()
        return await super().account(tenant_id)


@pytest.mark.parametrize("flaky", ["sent_since", "account"])
async def test_fallback_database_error_before_sending_is_retried(flaky: str) -> None:
    if flaky == "sent_since":
        f = fallbacks(sent=FlakySentLog())
    else:
        f = fallbacks(accounts=FlakyAccounts())
    delivery = fallback_for(message())

    with pytest.raises(PyMongoError):
        await f.handler.handle(delivery)
    await f.handler.handle(delivery)  # the queue's retry

    assert len(f.wechat.delivered) == 1
