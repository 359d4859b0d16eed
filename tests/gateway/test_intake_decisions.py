"""The webhook intake's decisions (dedup, publish or keep, wait for the passive reply),
against in-memory fakes of its ports: no broker, no database. The same paths on the real
stack are in test_webhook_flow.py and tests/e2e."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.gateway.bounded import Bounded
from services.gateway.dispatch import MAX_GATHERED, Dispatch
from services.gateway.intake import Intake, Replay, RetryLater, replay_decision
from services.gateway.metrics import GatewayMetrics
from shared.contracts.bundle import ASKS_HEADER, BUNDLE_CONTENT_TYPE, ask_of, decode_bundle
from shared.contracts.envelope import REPLY_DEADLINE_HEADER, Envelope
from shared.contracts.payloads import decode
from shared.contracts.reply import PassiveAnswer, Reply
from shared.contracts.reply_events import ReplyFallback, ReplySent
from shared.platform.bus import BrokerUnavailable
from tests.support.bus import wait_until
from tests.support.fakes import (
    FakeDedup,
    FakeMarks,
    FakeOutbox,
    FakePublisher,
    message,
)

ANSWER = PassiveAnswer(Reply("text", content="hello"), rule_id="r-1")
RETRY_GRACE = 10.0


@dataclass
class Gateway:
    dedup: FakeDedup
    marks: FakeMarks
    outbox: FakeOutbox
    publisher: FakePublisher
    metrics: GatewayMetrics
    dispatch: Dispatch
    intake: Intake

    async def accept(self, event: Envelope[Any], *, wants_reply: bool) -> PassiveAnswer | None:
        return await self.intake.accept(event, wants_reply=wants_reply, arrived=time.monotonic())


def gateway(
    *, answer: PassiveAnswer | bytes | None = ANSWER, reply_deadline: float = 1.0
) -> Gateway:
    """A gateway whose replies service answers ``answer`` at once (None: never)."""
    dedup, marks = FakeDedup(), FakeMarks()
    outbox = FakeOutbox(notes=marks)
    body = answer.encode() if isinstance(answer, PassiveAnswer) else answer
    publisher = FakePublisher(answer=body)
    metrics = GatewayMetrics.create(CollectorRegistry())
    bounded = Bounded(0.05)
    dispatch = Dispatch(
        publisher=publisher, keeper=outbox, marks=marks, metrics=metrics, bounded=bounded
    )
    intake = Intake(
        dedup=dedup,
        marks=marks,
        dispatch=dispatch,
        metrics=metrics,
        reply_deadline=reply_deadline,
        retry_grace=RETRY_GRACE,
        bounded=bounded,
    )
    return Gateway(dedup, marks, outbox, publisher, metrics, dispatch, intake)


def count(metric: Any, *labels: str) -> float:
    value: float = (metric.labels(*labels) if labels else metric)._value.get()
    return value


def fallback_in(body: bytes) -> ReplyFallback:
    payload = decode(body).payload
    assert isinstance(payload, ReplyFallback)
    return payload


# --- dedup ---------------------------------------------------------------------------


async def test_first_sight_publishes_once_and_notes_it() -> None:
    gw = gateway()
    event = message()

    assert await gw.accept(event, wants_reply=False) is None

    assert gw.publisher.ids == [event.id]
    assert gw.publisher.sent[0].routing_key == "acme.msg.text"
    assert gw.marks.notes[event.id].answer is None
    assert count(gw.metrics.accepted, "msg") == 1
    assert count(gw.metrics.published, "direct") == 1
    assert count(gw.metrics.dedup_hits) == 0


async def test_retry_of_a_published_event_answers_from_its_note_without_publishing() -> None:
    gw = gateway()
    event = message()
    first = await gw.accept(event, wants_reply=True)

    retry = await gw.accept(event, wants_reply=True)

    assert first == ANSWER
    assert retry == ANSWER
    assert gw.publisher.ids == [event.id]
    assert count(gw.metrics.dedup_hits) == 1
    assert count(gw.metrics.accepted, "msg") == 1


async def test_retry_of_a_published_event_without_reply_answers_success() -> None:
    gw = gateway()
    event = message()
    await gw.accept(event, wants_reply=False)

    assert await gw.accept(event, wants_reply=False) is None
    assert gw.publisher.ids == [event.id]
    assert count(gw.metrics.dedup_hits) == 1


async def test_seen_but_never_published_event_older_than_the_grace_is_published_again() -> None:
    gw = gateway()
    event = message()
    gw.dedup.seen[event.id] = datetime.now(UTC) - timedelta(seconds=RETRY_GRACE + 1)

    await gw.accept(event, wants_reply=False)

    assert gw.publisher.ids == [event.id]
    assert event.id in gw.marks.notes
    assert count(gw.metrics.dedup_hits) == 0


async def test_a_retry_while_the_first_attempt_may_still_publish_gets_503_not_success() -> None:
    gw = gateway()
    event = message()
    gw.dedup.seen[event.id] = datetime.now(UTC) - timedelta(seconds=RETRY_GRACE - 5)

    with pytest.raises(RetryLater):
        await gw.accept(event, wants_reply=True)

    assert gw.publisher.sent == []
    assert gw.outbox.items == []
    assert gw.dedup.seen[event.id]  # still seen: the first attempt decides, or the next retry
    assert count(gw.metrics.dedup_hits) == 0


async def test_a_retry_waits_for_the_first_attempts_note_and_answers_from_it() -> None:
    gw = gateway()
    event = message()
    gw.dedup.seen[event.id] = datetime.now(UTC)  # the first attempt is waiting for its reply
    asyncio.get_running_loop().call_later(0.3, gw.marks.add, event.id, event.tenant_id, ANSWER)

    assert await gw.accept(event, wants_reply=True) == ANSWER

    assert gw.publisher.sent == []
    assert count(gw.metrics.dedup_hits) == 1


async def test_a_retry_of_a_kept_event_answers_success_and_publishes_nothing() -> None:
    gw = gateway()
    gw.publisher.break_down()
    event = message()
    await gw.accept(event, wants_reply=False)
    gw.publisher.recover()

    assert await gw.accept(event, wants_reply=False) is None

    assert gw.publisher.sent == []
    assert gw.outbox.ids == [event.id]
    assert count(gw.metrics.dedup_hits) == 1


async def test_a_retry_after_a_503_publishes_the_event_nobody_took() -> None:
    """Issue 8, finding 1: the first attempt recorded the id, then neither the broker
    nor the outbox took the event; WeChat's retry must publish it, not answer success."""
    gw = gateway()
    gw.publisher.break_down()
    gw.outbox.down = True
    event = message()
    with pytest.raises(BrokerUnavailable):
        await gw.accept(event, wants_reply=False)
    gw.publisher.recover()
    gw.outbox.down = False
    gw.dedup.seen[event.id] -= timedelta(seconds=RETRY_GRACE)  # WeChat retries later

    assert await gw.accept(event, wants_reply=False) is None

    assert gw.publisher.ids == [event.id]
    assert count(gw.metrics.dedup_hits) == 0


async def test_a_keep_that_timed_out_after_landing_stays_for_the_retry_to_find() -> None:
    """The keep's answer came too late and the webhook answered 503, but the keep had
    landed. The 503 leaves the records: the retry, on another replica, finds the event
    kept and answers success; the relay publishes the one copy. (Taking the keep back
    raced with such a retry in fault runs: a late delete lost the event it had found.)"""
    first, second = gateway(), gateway()
    second.intake.dedup = first.dedup
    second.intake.dispatch.keeper = second.outbox = first.outbox
    first.publisher.break_down()
    first.outbox.slow_keeps = True
    event = message()
    with pytest.raises(BrokerUnavailable):
        await first.accept(event, wants_reply=False)
    assert first.outbox.ids == [event.id]
    assert event.id in first.dedup.seen

    assert await second.accept(event, wants_reply=False) is None
    assert second.publisher.sent == []
    assert first.outbox.ids == [event.id]  # for a relay
    assert count(second.metrics.dedup_hits) == 1


async def test_a_retry_after_a_503_that_kept_nothing_waits_out_the_grace_then_publishes() -> None:
    """Neither broker nor outbox took the event: a retry on another replica, which cannot
    tell that the first attempt is over, gets 503 within the grace, then publishes it."""
    first, second = gateway(), gateway()
    second.intake.dedup = first.dedup
    first.publisher.break_down()
    first.outbox.down = True
    event = message()
    with pytest.raises(BrokerUnavailable):
        await first.accept(event, wants_reply=False)
    first.outbox.down = False

    with pytest.raises(RetryLater):
        await second.accept(event, wants_reply=False)
    first.dedup.seen[event.id] = datetime.now(UTC) - timedelta(seconds=RETRY_GRACE)
    assert await second.accept(event, wants_reply=False) is None

    assert second.publisher.ids == [event.id]


async def test_a_retry_on_the_replica_that_refused_publishes_at_once() -> None:
    """The replica that answered 503 knows its attempt is over: no grace to wait out."""
    gw = gateway()
    gw.publisher.break_down()
    gw.outbox.down = True
    event = message()
    with pytest.raises(BrokerUnavailable):
        await gw.accept(event, wants_reply=False)
    gw.outbox.down = False
    gw.publisher.recover()

    assert await gw.accept(event, wants_reply=False) is None
    assert gw.publisher.ids == [event.id]


async def test_a_retry_on_the_replica_that_refused_still_answers_from_a_late_keep() -> None:
    gw = gateway()
    gw.publisher.break_down()
    gw.outbox.slow_keeps = True  # the keep lands; its answer never comes
    event = message()
    with pytest.raises(BrokerUnavailable):
        await gw.accept(event, wants_reply=False)
    gw.publisher.recover()

    assert await gw.accept(event, wants_reply=False) is None
    assert gw.publisher.sent == []  # the relay publishes the kept one
    assert gw.outbox.ids == [event.id]


async def test_records_unreadable_on_a_retry_publish_it_rather_than_drop_it() -> None:
    gw = gateway()
    event = message()
    gw.dedup.seen[event.id] = datetime.now(UTC)
    gw.outbox.down = True  # the outbox cannot say whether it was kept

    assert await gw.accept(event, wants_reply=False) is None

    assert gw.publisher.ids == [event.id]
    assert count(gw.metrics.dedup_skipped) == 1


@pytest.mark.parametrize(
    ("handled", "seen_age", "expected"),
    [
        (True, 0.0, Replay.ANSWERED),  # on the bus or in the outbox
        (True, None, Replay.ANSWERED),
        (False, RETRY_GRACE - 0.1, Replay.WAIT),  # the first attempt may still be publishing
        (False, RETRY_GRACE, Replay.PUBLISH),
        (False, RETRY_GRACE * 10, Replay.PUBLISH),
        (False, None, Replay.PUBLISH),  # forgotten after a 503, or purged
    ],
)
def test_replay_decision(handled: bool, seen_age: float | None, expected: Replay) -> None:
    assert replay_decision(handled=handled, seen_age=seen_age, retry_grace=RETRY_GRACE) is expected


async def test_dedup_database_unavailable_still_publishes_and_counts_the_skip() -> None:
    gw = gateway()
    gw.dedup.down = True
    event = message()

    assert await gw.accept(event, wants_reply=True) == ANSWER

    assert gw.publisher.ids == [event.id]
    assert count(gw.metrics.dedup_skipped) == 1


async def test_dedup_database_too_slow_still_publishes_and_counts_the_skip() -> None:
    gw = gateway()
    gw.dedup.stalls = True  # the bound (0.05 s here) gives up on it
    event = message()

    await gw.accept(event, wants_reply=False)

    assert gw.publisher.ids == [event.id]
    assert count(gw.metrics.dedup_skipped) == 1


# --- the broker away -----------------------------------------------------------------


async def test_broker_unavailable_keeps_the_event_and_a_fallback_for_its_reply() -> None:
    gw = gateway()
    gw.publisher.break_down()
    event = message()

    assert await gw.accept(event, wants_reply=True) is None

    assert gw.outbox.ids == [event.id, f"{event.id}-fb"]
    fallback = fallback_in(gw.outbox.items[1].body)
    assert fallback.reason == "broker_unavailable"
    assert fallback.event == event
    assert gw.dispatch.backlog.active
    assert gw.dispatch.backlog.wakeup.is_set()
    assert gw.publisher.waiting == {}  # the reply it expected is forgotten
    assert count(gw.metrics.kept) == 2
    assert count(gw.metrics.replies, "fallback") == 1
    assert gw.marks.notes == {}  # the relay notes it once it is on the bus


async def test_broker_unavailable_keeps_an_event_that_wants_no_reply_alone() -> None:
    gw = gateway()
    gw.publisher.break_down()
    event = message(kind="event.view", fields={"event_key": "https://example.com/"})

    assert await gw.accept(event, wants_reply=False) is None

    assert gw.outbox.ids == [event.id]
    assert gw.dispatch.backlog.active


async def test_events_after_a_kept_one_are_kept_behind_it_even_when_the_broker_is_back() -> None:
    gw = gateway()
    gw.publisher.break_down()
    first = message("m1")
    await gw.accept(first, wants_reply=True)
    gw.publisher.recover()

    assert await gw.accept(message("m2"), wants_reply=False) is None
    assert await gw.accept(message("m3"), wants_reply=True) is None

    assert gw.publisher.sent == []
    assert gw.outbox.ids == ["m1", "m1-fb", "m2", "m3", "m3-fb"]
    assert fallback_in(gw.outbox.items[4].body).reason == "broker_unavailable"


@pytest.mark.parametrize("wants_reply", [True, False])
async def test_neither_broker_nor_database_raises_broker_unavailable(wants_reply: bool) -> None:
    gw = gateway()
    gw.publisher.break_down()
    gw.outbox.down = True

    with pytest.raises(BrokerUnavailable):
        await gw.accept(message(), wants_reply=wants_reply)

    assert gw.outbox.items == []
    assert gw.publisher.waiting == {}
    assert not gw.dispatch.backlog.active


# --- the passive reply ---------------------------------------------------------------


async def test_passive_reply_in_time_is_returned_and_noted() -> None:
    gw = gateway(answer=ANSWER)
    event = message()
    before_ms = int(time.time() * 1000)

    assert await gw.accept(event, wants_reply=True) == ANSWER

    [sent] = gw.publisher.sent
    assert sent.message_id == event.id
    assert sent.correlation_id is not None
    assert sent.headers[REPLY_DEADLINE_HEADER] > before_ms  # epoch ms, in the future
    assert gw.marks.notes[event.id].answer == ANSWER
    assert count(gw.metrics.replies, "passive") == 1
    assert count(gw.metrics.deadline_missed) == 0
    assert gw.outbox.items == []


async def test_a_none_answer_is_success_and_noted() -> None:
    gw = gateway(answer=PassiveAnswer())
    event = message()

    assert await gw.accept(event, wants_reply=True) is None

    assert gw.marks.notes[event.id].answer == PassiveAnswer()
    assert count(gw.metrics.replies, "none") == 1
    assert gw.publisher.ids == [event.id]  # no fallback: the rules had nothing to say


async def test_deadline_passes_publishes_a_fallback_with_reason_deadline() -> None:
    gw = gateway(answer=None, reply_deadline=0.05)
    event = message()

    assert await gw.accept(event, wants_reply=True) is None

    assert gw.publisher.ids == [event.id, f"{event.id}-fb"]
    assert fallback_in(gw.publisher.sent[1].body).reason == "deadline"
    assert count(gw.metrics.deadline_missed) == 1
    assert count(gw.metrics.replies, "fallback") == 1
    assert gw.marks.notes[event.id].answer is None  # published, and no reply to repeat
    assert list(gw.marks.notes) == [event.id]  # not the fallback: WeChat never retries it
    assert gw.publisher.waiting == {}
    assert gw.publisher.forgotten == [gw.publisher.sent[0].correlation_id]


async def test_the_deadline_counts_from_the_request_arriving() -> None:
    gw = gateway(answer=None, reply_deadline=0.5)
    event = message()
    started = time.monotonic()

    answer = await gw.intake.accept(event, wants_reply=True, arrived=started - 1.0)

    assert answer is None
    assert time.monotonic() - started < 0.25
    assert gw.publisher.sent[0].headers[REPLY_DEADLINE_HEADER] < int(time.time() * 1000)
    assert count(gw.metrics.deadline_missed) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"type": "text"}',
        b'{"type": "gif", "content": "x"}',
        b'{"type": "news", "articles": "x"}',
    ],
)
async def test_an_undecodable_reply_body_is_treated_as_none(body: bytes) -> None:
    gw = gateway(answer=body)
    event = message()

    assert await gw.accept(event, wants_reply=True) is None

    assert count(gw.metrics.replies, "none") == 1
    assert gw.marks.notes[event.id].answer == PassiveAnswer()
    assert gw.publisher.ids == [event.id]


# --- events of one turn, published together ------------------------------------------


def histogram_sum_and_count(histogram: Any) -> tuple[float, float]:
    samples = {s.name: s.value for s in histogram.collect()[0].samples}
    return samples[f"{histogram._name}_sum"], samples[f"{histogram._name}_count"]


async def test_texts_accepted_in_one_turn_go_as_one_bundle_each_with_its_own_ask() -> None:
    gw = gateway()
    events = [message(f"m{n}", tenant=f"t{n % 2}") for n in range(3)]

    answers = await asyncio.gather(*(gw.accept(event, wants_reply=True) for event in events))

    assert answers == [ANSWER] * 3  # each answered by its own ask
    [bundle] = gw.publisher.sent
    assert (bundle.content_type, bundle.routing_key) == (BUNDLE_CONTENT_TYPE, "_bundle.msg.text")
    assert decode_bundle(bundle.body) == events
    asks = [ask_of(bundle.headers[ASKS_HEADER], n, 3) for n in range(3)]
    assert all(ask is not None and 0 < ask.budget_ms <= 1000 for ask in asks)
    assert len({ask.correlation_id for ask in asks if ask}) == 3
    assert {event_id: note.answer for event_id, note in gw.marks.notes.items()} == {
        event.id: ANSWER for event in events
    }
    assert count(gw.metrics.published, "direct") == 3
    assert histogram_sum_and_count(gw.metrics.events_per_message) == (3, 1)


async def test_one_turn_publishes_one_message_per_type_and_a_lone_event_as_itself() -> None:
    gw = gateway()
    text1, view, text2 = message("t1"), message("v1", kind="event.view"), message("t2")

    await asyncio.gather(
        gw.accept(text1, wants_reply=True),
        gw.accept(view, wants_reply=False),
        gw.accept(text2, wants_reply=False),
    )

    bundle, alone = gw.publisher.sent
    assert bundle.routing_key == "_bundle.msg.text"
    assert decode_bundle(bundle.body) == [text1, text2]  # in the order they came
    assert ask_of(bundle.headers[ASKS_HEADER], 0, 2) is not None
    assert ask_of(bundle.headers[ASKS_HEADER], 1, 2) is None  # text2 asked for nothing
    assert (alone.routing_key, alone.content_type) == ("acme.event.view", "application/json")
    assert decode(alone.body) == view
    assert ASKS_HEADER not in alone.headers


async def test_a_turn_of_more_than_a_bundle_holds_goes_in_several() -> None:
    gw = gateway()
    events = [message(f"m{n:02}") for n in range(MAX_GATHERED + 8)]

    await asyncio.gather(*(gw.accept(event, wants_reply=False) for event in events))

    sizes = [len(decode_bundle(sent.body)) for sent in gw.publisher.sent]
    assert sizes == [MAX_GATHERED, 8]
    assert [e.id for sent in gw.publisher.sent for e in decode_bundle(sent.body)] == [
        event.id for event in events
    ]


async def test_a_bundle_the_broker_refuses_leaves_each_event_kept_and_answered_by_fallback() -> (
    None
):
    gw = gateway()
    gw.publisher.break_down()
    events = [message(f"m{n}") for n in range(2)]

    answers = await asyncio.gather(*(gw.accept(event, wants_reply=True) for event in events))

    assert answers == [None, None]  # ``success``: the fallbacks answer later
    kept = {item.event_id: item.body for item in gw.outbox.items}
    assert {"m0", "m1"} < set(kept)  # each kept alone, for the relay
    fallbacks = [
        fallback_in(body) for event_id, body in kept.items() if event_id not in ("m0", "m1")
    ]
    assert sorted((f.event.id, f.reason) for f in fallbacks) == [
        ("m0", "broker_unavailable"),
        ("m1", "broker_unavailable"),
    ]
    assert count(gw.metrics.replies, "fallback") == 2


async def test_a_bundles_late_confirm_holds_each_of_its_events_and_releases_each() -> None:
    gw = gateway()
    gw.publisher.late = True
    events = [message(f"m{n}") for n in range(2)]

    await asyncio.gather(*(gw.accept(event, wants_reply=False) for event in events))

    assert [item.event_id for item in gw.outbox.items] == ["m0", "m1"]
    assert set(gw.outbox.held) == {"m0", "m1"}  # held by this replica until the confirm
    [confirm] = gw.publisher.pending  # one publish for both
    confirm.set_result(None)
    await gw.dispatch.drain()
    assert gw.outbox.ids == []  # both released as published
    assert count(gw.metrics.published, "late_confirm") == 2


async def test_a_bundle_that_fails_unexpectedly_fails_each_of_its_requests() -> None:
    gw = gateway()

    async def broken(*_: Any) -> None:
        raise RuntimeError("a bug")

    gw.publisher.publish_bundle = broken  # type: ignore[method-assign]
    outcomes = await asyncio.gather(
        *(gw.accept(message(f"m{n}"), wants_reply=True) for n in range(2)),
        return_exceptions=True,
    )

    assert [repr(outcome) for outcome in outcomes] == [repr(RuntimeError("a bug"))] * 2
    await gw.dispatch.drain()  # and nothing is left waiting


# --- reply.sent, off the request path ------------------------------------------------


async def test_replied_publishes_the_receipts_together_off_the_request_path() -> None:
    gw = gateway()
    events = [message(f"m{n}", tenant=f"t{n % 2}") for n in range(3)]

    for event in events:
        gw.dispatch.replied(event, ANSWER)
    assert gw.publisher.sent == []  # not yet: the webhook answers first
    await gw.dispatch.drain()

    [bundle] = gw.publisher.sent  # one message for the three, across tenants
    assert (bundle.content_type, bundle.routing_key) == (BUNDLE_CONTENT_TYPE, "_bundle.reply.sent")
    receipts = decode_bundle(bundle.body)
    assert [r.payload for r in receipts] == [
        ReplySent(event_id=event.id, rule_id="r-1", via="passive") for event in events
    ]
    assert [(r.id, r.tenant_id) for r in receipts] == [
        (f"{event.id}-sent", event.tenant_id) for event in events
    ]
    assert count(gw.metrics.published, "direct") == 3
    assert gw.marks.notes == {}  # WeChat never retries the platform's own events: no note


async def test_receipts_arriving_while_a_bundle_is_confirmed_go_in_the_next() -> None:
    gw = gateway()
    gw.publisher.late = True  # each publish waits for its confirm until told
    gw.dispatch.replied(message("m1"), ANSWER)
    await wait_until(lambda: len(gw.publisher.pending) == 1, timeout=2)
    gw.dispatch.replied(message("m2"), ANSWER)
    gw.dispatch.replied(message("m3"), ANSWER)
    gw.publisher.pending[0].set_result(None)
    await wait_until(lambda: len(gw.publisher.pending) == 2, timeout=2)
    gw.publisher.pending[1].set_result(None)
    await gw.dispatch.drain()

    bundles = [[r.id for r in decode_bundle(sent.body)] for sent in gw.publisher.sent]
    assert bundles == [["m1-sent"], ["m2-sent", "m3-sent"]]
    assert gw.outbox.ids == []
    assert count(gw.metrics.published, "late_confirm") == 3  # each confirmed late here


async def test_a_bundle_the_broker_refuses_goes_again_one_receipt_at_a_time() -> None:
    gw = gateway()
    gw.publisher.late = True
    gw.dispatch.replied(message("m1"), ANSWER)
    gw.dispatch.replied(message("m2"), ANSWER)
    await wait_until(lambda: len(gw.publisher.pending) == 1, timeout=2)
    gw.publisher.late = False
    gw.publisher.pending[0].set_exception(BrokerUnavailable("nacked"))
    await gw.dispatch.drain()

    bundle, *alone = gw.publisher.sent
    assert bundle.content_type == BUNDLE_CONTENT_TYPE
    assert [sent.message_id for sent in alone] == ["m1-sent", "m2-sent"]
    assert [decode(sent.body).payload for sent in alone] == [
        ReplySent(event_id=event_id, rule_id="r-1", via="passive") for event_id in ("m1", "m2")
    ]
    assert gw.outbox.ids == []


async def test_replied_without_a_rule_publishes_nothing() -> None:
    gw = gateway()

    gw.dispatch.replied(message(), PassiveAnswer(Reply("text", content="hi")))
    await gw.dispatch.drain()

    assert gw.publisher.sent == []


async def test_replied_while_the_broker_is_away_keeps_reply_sent() -> None:
    gw = gateway()
    gw.publisher.break_down()
    event = message()

    gw.dispatch.replied(event, ANSWER)
    await gw.dispatch.drain()

    assert gw.outbox.ids == [f"{event.id}-sent"]
