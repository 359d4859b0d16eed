"""The replies service's passive answer, against in-memory fakes of its ports: no broker,
no database. (The fallback's decisions are in ``test_fallback_decisions.py``.)"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from services.replies.handlers import PassiveReplies, deadline_passed
from services.replies.matching import RuleSet
from services.replies.metrics import ReplyMetrics
from services.replies.validation import validate_rule
from shared.contracts.envelope import REPLY_BUDGET_HEADER, REPLY_DEADLINE_HEADER, Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer, Reply
from shared.platform.delivery import RETRIES_HEADER, Delivery, RetryLater
from tests.support.fakes import (
    OPENID,
    RULES,
    TENANT,
    FakeRuleSource,
    FakeUnanswered,
    Responses,
    database_down,
    message,
)

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
    inbox: FakeUnanswered
    metrics: ReplyMetrics
    handler: PassiveReplies


def passive() -> Passive:
    rules, inbox = rule_source(), FakeUnanswered()
    metrics = ReplyMetrics.create(CollectorRegistry())
    handler = PassiveReplies(rules=rules, unanswered=inbox, metrics=metrics, rng=random.Random(1))
    return Passive(rules, inbox, metrics, handler)


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


# --- the reader inbox ---------------------------------------------------------------


async def test_a_message_no_rule_answers_goes_to_the_inbox_once() -> None:
    p, responses = passive(), Responses()
    event = message("m-unanswered", content="weather?")

    await p.handler.handle(waited_for(event, responses))
    await p.handler.handle(waited_for(event, responses))  # redelivered

    assert list(p.inbox.recorded) == ["m-unanswered"]
    assert count(p.metrics.inbox, "recorded") == 1


async def test_an_answered_message_a_late_one_and_an_event_stay_out_of_the_inbox() -> None:
    p, responses = passive(), Responses()
    late = {REPLY_DEADLINE_HEADER: int(time.time() * 1000) - 1}  # the fallback decides

    await p.handler.handle(waited_for(message("m-price", content="price"), responses))
    late_one = Delivery(message("m-late", content="?"), headers=late, respond=responses)
    await p.handler.handle(late_one)
    await p.handler.handle(waited_for(message("e-click", kind="event.click"), responses))

    assert p.inbox.recorded == {}


async def test_a_database_away_retries_the_record_and_the_retry_only_records() -> None:
    p, responses = passive(), Responses()
    event = message("m-retry", content="weather?")
    p.inbox.down = True

    with pytest.raises(RetryLater):
        await p.handler.handle(waited_for(event, responses))
    assert responses.bodies == [b'{"type":"none"}']  # the gateway had its answer first

    p.inbox.down = False
    retried = Delivery(event, headers={RETRIES_HEADER: 1})  # from the retry queue: no reply-to
    await p.handler.handle(retried)

    assert list(p.inbox.recorded) == ["m-retry"]
    assert p.rules.reads == 1  # not decided again: the reader got no reply either way


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
def test_without_a_budget_the_absolute_deadline_decides(
    headers: dict[str, object], passed: bool
) -> None:
    assert deadline_passed(headers, now_ms=1000, held_ms=0) is passed


@pytest.mark.parametrize(
    ("held_ms", "passed"),
    [(0, False), (2999.9, False), (3000, True), (5000, True)],
)
def test_the_budget_counts_from_this_process_receiving_the_message(
    held_ms: float, passed: bool
) -> None:
    # The absolute deadline says the opposite each time: a skewed clock, ignored.
    absolute = 0 if not passed else 10**15
    headers = {REPLY_BUDGET_HEADER: 3000, REPLY_DEADLINE_HEADER: absolute}
    assert deadline_passed(headers, now_ms=10**12, held_ms=held_ms) is passed


@pytest.mark.parametrize("budget", ["3000", 3000.0, True, None])
def test_a_budget_that_is_not_the_gateways_int_falls_back_to_the_deadline(budget: object) -> None:
    headers = {REPLY_BUDGET_HEADER: budget, REPLY_DEADLINE_HEADER: 2000}
    assert deadline_passed(headers, now_ms=1000, held_ms=10**9) is False
    assert deadline_passed(headers, now_ms=3000, held_ms=0) is True


async def test_a_receiver_whose_clock_runs_ahead_still_answers_within_the_budget() -> None:
    p, responses = passive(), Responses()
    skewed = int(time.time() * 1000) - 60_000  # the gateway's clock is a minute behind
    headers = {REPLY_BUDGET_HEADER: 3000, REPLY_DEADLINE_HEADER: skewed}

    await p.handler.handle(Delivery(message(content="price"), headers=headers, respond=responses))

    assert [PassiveAnswer.decode(body) for body in responses.bodies] == [
        PassiveAnswer(PRICE, "r-price")
    ]
    assert count(p.metrics.passive, "rule") == 1


async def test_a_message_held_past_its_budget_is_late_whatever_the_clocks_say() -> None:
    p, responses = passive(), Responses()
    ahead = int(time.time() * 1000) + 60_000  # the gateway's clock is a minute ahead
    headers = {REPLY_BUDGET_HEADER: 3000, REPLY_DEADLINE_HEADER: ahead}
    received = time.monotonic() - 3.5  # reached this process 3.5 s ago (a long queue)

    await p.handler.handle(
        Delivery(message(content="price"), headers=headers, respond=responses, received=received)
    )

    assert responses.bodies == []
    assert count(p.metrics.passive, "late") == 1
