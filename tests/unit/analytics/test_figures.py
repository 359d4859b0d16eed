"""The figures of the issue, each checked against values computed by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.analytics.digests import digest
from services.analytics.facts import REPLY, Fact, fact_of
from services.analytics.figures import (
    HEALTH_ORDER,
    DayFigures,
    HealthPolicy,
    Impact,
    SendTime,
    by_hour,
    by_hour_of_week,
    channel_of,
    day_figures,
    followers_known,
    health,
    impact,
    send_time,
    with_cumulative,
)
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import Via, reply_sent

TZ = "Asia/Shanghai"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def wechat(type_: str, at: datetime, openid: str, id: str = "", **fields: Any) -> Fact:
    stamp = iso(at)
    event_id = id or f"{type_}-{openid}-{stamp}"
    envelope = Envelope(
        event_id, "acme", type_, stamp, stamp, openid, WeChatMessage("gh_a", fields)
    )
    fact = fact_of(envelope, TZ)
    assert fact is not None
    return fact


def reply(answering: str, openid: str, via: Via, at: datetime) -> Fact:
    """``reply.sent`` at ``at`` for the message ``answering``, as the replies service says it."""
    original = Envelope(answering, "acme", "msg.text", iso(at), iso(at), openid, WeChatMessage("x"))
    fact = fact_of(reply_sent(original, rule_id="r1", via=via, at=at), TZ)
    assert fact is not None
    return fact


# Local 2 December in Shanghai runs from 2026-12-01T16:00Z to 2026-12-02T16:00Z.
FACTS = [
    wechat("event.subscribe", utc(1, 16, 30), "o1", scene="poster"),  # local 2nd 00:30
    wechat("event.subscribe", utc(1, 15, 59), "o2"),  # local 1st 23:59
    wechat("event.unsubscribe", utc(2, 3), "o3"),
    wechat("event.subscribe", utc(2, 4), "o3"),  # a resubscribe counts as new
    wechat("msg.text", utc(2, 1), "o1", id="m1", content="价格"),
    wechat("msg.text", utc(2, 2), "o4", id="m2", content="在吗"),
    wechat("msg.image", utc(2, 2, 5), "o4", id="m3", pic_url="https://x/p.jpg"),
    wechat("msg.text", utc(2, 16, 10), "o5", id="m4", content="hello"),  # local 3rd
    wechat("event.click", utc(2, 5), "o1", event_key="PRICE"),
    wechat("event.click", utc(2, 6), "o1", event_key="PRICE"),
    wechat("event.click", utc(2, 7), "o5", event_key="HELP"),
    wechat("event.view", utc(2, 8), "o6", event_key="https://example.com"),
    wechat("event.location", utc(2, 9), "o7", latitude="31.2"),  # not an interaction
    reply("m1", "o1", "passive", utc(2, 1, 1)),
    reply("m2", "o4", "customer_service", utc(2, 16, 30)),  # answered on the local 3rd
]
ANSWERED = {fact.answers for fact in FACTS if fact.kind == REPLY and fact.answers}


def test_a_days_figures() -> None:
    figures = day_figures("2026-12-02", FACTS, ANSWERED)
    assert figures == DayFigures(
        date="2026-12-02",
        new=2,  # o1, and o3 again
        lost=1,
        net=1,
        cumulative=None,
        active_readers=4,  # o1, o4, o5, o6; not o7 (LOCATION) nor o3 (follows only)
        messages=3,
        messages_by_type={"image": 1, "text": 2},
        menu_clicks={"HELP": 1, "PRICE": 2},
        rule_replies=1,
        cs_replies=0,  # m2's reply went out on the 3rd
        unanswered=1,  # m3; m2 was answered the next day
        interactions=7,  # 3 messages, 3 clicks, 1 view
    )


def test_a_reply_counts_on_its_own_day_and_its_message_on_its_own() -> None:
    before = day_figures("2026-12-01", FACTS, ANSWERED)
    after = day_figures("2026-12-03", FACTS, ANSWERED)
    assert (before.new, before.lost, before.messages, before.active_readers) == (1, 0, 0, 0)
    assert (after.messages, after.unanswered, after.cs_replies, after.rule_replies) == (1, 1, 1, 0)
    without_replies = day_figures("2026-12-02", FACTS, set())
    assert without_replies.unanswered == 3


def test_an_empty_day() -> None:
    figures = day_figures("2026-12-09", FACTS, ANSWERED)
    assert figures.to_json() == {
        "date": "2026-12-09",
        "new": 0,
        "lost": 0,
        "net": 0,
        "cumulative": None,
        "active_readers": 0,
        "messages": 0,
        "messages_by_type": {},
        "menu_clicks": {},
        "rule_replies": 0,
        "cs_replies": 0,
        "unanswered": 0,
    }


def test_the_json_of_a_day_is_the_api_shape() -> None:
    data = day_figures("2026-12-02", FACTS, ANSWERED).to_json()
    assert list(data) == [
        "date",
        "new",
        "lost",
        "net",
        "cumulative",
        "active_readers",
        "messages",
        "messages_by_type",
        "menu_clicks",
        "rule_replies",
        "cs_replies",
        "unanswered",
    ]
    assert data["menu_clicks"] == {"HELP": 1, "PRICE": 2}


def day(date: str, net: int) -> DayFigures:
    new, lost = max(net, 0), max(-net, 0)
    return DayFigures(date, new, lost, net, None, 0, 0, {}, {}, 0, 0, 0, 0)


def cumulatives(days: list[DayFigures]) -> dict[str, int | None]:
    return {figures.date: figures.cumulative for figures in days}


def test_without_a_baseline_cumulative_is_null() -> None:
    days = [replace(day("2026-12-01", 5), cumulative=9), day("2026-12-02", 1)]
    assert cumulatives(with_cumulative(days, None)) == {"2026-12-01": None, "2026-12-02": None}


def test_cumulative_from_a_baseline_over_missing_days() -> None:
    days = [
        day("2026-12-03", -2),
        day("2026-12-01", 5),
        day("2026-12-05", 3),  # the 4th is missing: net 0
        day("2026-12-02", 1),
    ]
    result = with_cumulative(days, ("2026-12-02", 100))
    assert [figures.date for figures in result] == [figures.date for figures in days]
    assert cumulatives(result) == {
        "2026-12-03": 98,
        "2026-12-01": None,  # before the baseline
        "2026-12-05": 101,
        "2026-12-02": 100,  # the baseline counts the end of its own day
    }


def test_a_baseline_on_a_day_not_listed_or_after_every_day() -> None:
    days = [day("2026-12-03", -2), day("2026-12-05", 3)]
    assert cumulatives(with_cumulative(days, ("2026-12-04", 50))) == {
        "2026-12-03": None,
        "2026-12-05": 53,
    }
    assert cumulatives(with_cumulative(days, ("2026-12-31", 50))) == {
        "2026-12-03": None,
        "2026-12-05": None,
    }


def test_followers_known() -> None:
    assert followers_known(("2026-12-02", 100), 7, 3) == 107
    assert followers_known(("2026-12-02", 100), -120, 3) == -20  # as counted, not clamped
    assert followers_known(None, 7, 3) == 3


def test_send_time_needs_50_interactions() -> None:
    hours = [0] * 24
    hours[9] = 49
    assert send_time(hours) == SendTime(20, "default", 49)
    hours[9] = 50
    assert send_time(hours) == SendTime(9, "interactions", 50)
    assert send_time(hours).to_json() == {"hour": 9, "basis": "interactions", "sample": 50}
    assert send_time(hours, min_sample=51, default_hour=18) == SendTime(18, "default", 50)


def test_send_time_picks_the_earliest_of_tied_hours() -> None:
    hours = [0] * 24
    hours[21], hours[8], hours[3] = 30, 30, 5
    assert send_time(hours) == SendTime(8, "interactions", 65)


def test_send_time_wants_24_hours() -> None:
    with pytest.raises(ValueError, match="24 counts"):
        send_time([60])


def test_interactions_by_local_hour_of_week() -> None:
    cells = [cell for day in {f.day for f in FACTS} for cell in digest(day, FACTS).by_hour]
    grid = by_hour_of_week(cells)
    assert len(grid) == 7
    assert all(len(row) == 24 for row in grid)
    assert sum(map(sum, grid)) == 8  # the 7 interactions of the 2nd and m4 on the 3rd
    wednesday, thursday = grid[2], grid[3]  # 2 and 3 December 2026
    assert wednesday[9] == 1  # m1 at 01:00Z
    assert wednesday[10] == 2  # m2, m3
    assert (wednesday[13], wednesday[14], wednesday[15], wednesday[16]) == (1, 1, 1, 1)
    assert wednesday[17] == 0  # the LOCATION at 09:00Z
    assert thursday[0] == 1  # m4 at 16:10Z: 00:10 local on the 3rd
    assert by_hour(grid)[10] == 2
    assert sum(by_hour(grid)) == 8


NOW = utc(15, 12)


@pytest.mark.parametrize(
    ("last", "week", "previous", "status"),
    [
        (None, 0, 0, "no_data"),
        (NOW - 30 * DAY, 0, 0, "dormant"),
        (NOW - 7 * DAY - timedelta(seconds=1), 0, 12, "dormant"),
        (NOW - 7 * DAY, 1, 12, "declining"),  # exactly 7 days ago is in the window
        (NOW - HOUR, 5, 11, "declining"),  # 5 < 5.5
        (NOW - HOUR, 5, 10, "active"),  # 5 is not below half of 10
        (NOW - HOUR, 1, 0, "active"),  # nothing before: not declining
        (NOW - HOUR, 40, 10, "active"),
    ],
)
def test_health(last: datetime | None, week: int, previous: int, status: str) -> None:
    result = health(
        last_interaction_at=last, interactions_7d=week, interactions_prev_7d=previous, now=NOW
    )
    assert result == status


def test_health_thresholds_are_settings() -> None:
    strict = HealthPolicy(dormant_days=3, declining_ratio=0.9)
    kwargs: dict[str, Any] = {"interactions_7d": 8, "interactions_prev_7d": 10, "now": NOW}
    assert health(last_interaction_at=NOW - 4 * DAY, policy=strict, **kwargs) == "dormant"
    assert health(last_interaction_at=NOW - DAY, policy=strict, **kwargs) == "declining"
    assert health(last_interaction_at=NOW - DAY, **kwargs) == "active"


def test_health_order_puts_the_worst_first() -> None:
    statuses = ["active", "no_data", "declining", "dormant"]
    assert sorted(statuses, key=HEALTH_ORDER.__getitem__) == [
        "dormant",
        "declining",
        "no_data",
        "active",
    ]


SUBMITTED = utc(15, 12)


def test_impact_leaves_broadcast_days_out_of_the_baseline() -> None:
    unfollows = [
        SUBMITTED,
        SUBMITTED + 3 * HOUR,
        SUBMITTED + 23 * HOUR,
        SUBMITTED + DAY,  # the 24 h are over
        SUBMITTED - HOUR,  # window 1
        SUBMITTED - 20 * HOUR,  # window 1
        *[SUBMITTED - DAY - k * HOUR for k in range(1, 11)],  # window 2: 10, a broadcast day
        *[SUBMITTED - 2 * DAY - k * HOUR for k in range(1, 5)],  # window 3: 4
        SUBMITTED - 14 * DAY - HOUR,  # before the 14 days
    ]
    broadcasts = [SUBMITTED, SUBMITTED - 40 * HOUR, SUBMITTED - 20 * DAY]
    result = impact(submitted_at=SUBMITTED, unfollows=unfollows, broadcasts=broadcasts)
    # 13 quiet windows: 2 + 4 + 11 × 0 = 6 unsubscribes
    assert result.unsubscribes == 3
    assert result.baseline == pytest.approx(6 / 13)
    assert result.lift == pytest.approx(3 / (6 / 13))  # 6.5


def test_impact_with_a_zero_baseline_has_no_lift() -> None:
    result = impact(submitted_at=SUBMITTED, unfollows=[SUBMITTED + HOUR], broadcasts=[])
    assert result == Impact(unsubscribes=1, baseline=0.0, lift=None)


def test_impact_without_a_quiet_day_has_no_baseline() -> None:
    daily = [SUBMITTED - k * DAY + HOUR for k in range(1, 15)]  # one broadcast a day
    result = impact(submitted_at=SUBMITTED, unfollows=daily, broadcasts=daily)
    assert result == Impact(unsubscribes=0, baseline=None, lift=None)


def test_impact_with_an_even_baseline() -> None:
    unfollows = [SUBMITTED - k * DAY + HOUR for k in range(1, 15)] + [SUBMITTED + HOUR] * 3
    result = impact(submitted_at=SUBMITTED, unfollows=unfollows, broadcasts=[SUBMITTED])
    assert result == Impact(unsubscribes=3, baseline=1.0, lift=3.0)


def test_channel_of() -> None:
    assert channel_of("poster_2026") == "poster_2026"
    assert channel_of(None) == "other"
    assert channel_of("") == "other"
    subscribe = next(fact for fact in FACTS if fact.openid == "o1")
    assert channel_of(subscribe.key) == "poster"
