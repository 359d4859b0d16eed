"""Channels: new and lost by the channel a reader came by, 7-day retention of each day's
subscribers, and the 30-day active share of those still following."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.analytics.channels import Reader, channel_rows
from services.analytics.facts import FOLLOW, INTERACTION, UNFOLLOW, Fact

TODAY = date(2026, 12, 20)


def fact(kind: str, openid: str, day: date, key: str | None = None, hours: int = 0) -> Fact:
    at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC) + timedelta(hours=hours)
    return Fact(
        id=f"{kind}-{openid}-{day}-{hours}",
        kind=kind,
        type="event.subscribe" if kind == FOLLOW else "msg.text",
        at=at,
        day=day.isoformat(),
        hour=10,
        weekday=at.weekday(),
        openid=openid,
        key=key,
    )


def test_new_lost_retention_and_activity_per_channel() -> None:
    d1, d2 = date(2026, 12, 1), date(2026, 12, 15)
    facts = [
        fact(FOLLOW, "a", d1, "store-42"),
        fact(FOLLOW, "b", d1, "store-42"),
        fact(UNFOLLOW, "b", d1 + timedelta(days=3)),  # left within 7 days
        fact(FOLLOW, "c", d1),  # no scene: other
        fact(UNFOLLOW, "c", d1 + timedelta(days=9)),  # left after 7 days: retained
        fact(FOLLOW, "d", d2, "store-42"),  # too recent for the 7-day cohort
        fact(INTERACTION, "a", TODAY - timedelta(days=3)),  # not a follow event: left out
    ]
    readers = {
        "a": Reader(True, "store-42"),
        "b": Reader(False, "store-42"),
        "c": Reader(False, "other"),
        "d": Reader(True, "store-42"),
    }
    rows = channel_rows(facts, {"a", "x"}, readers, first=d1, last=TODAY, today=TODAY)
    assert rows == [
        {"channel": "other", "new": 1, "lost": 1, "retained_7d_rate": 1.0, "active_30d_rate": None},
        {
            "channel": "store-42",
            "new": 3,
            "lost": 1,
            "retained_7d_rate": 0.5,  # a stayed, b left
            "active_30d_rate": 0.5,  # a active, d not
        },
    ]


def test_the_range_bounds_new_and_lost() -> None:
    facts = [fact(FOLLOW, "a", date(2026, 11, 1), "old"), fact(FOLLOW, "b", TODAY, "new")]
    rows = channel_rows(facts, set(), {}, first=date(2026, 12, 1), last=TODAY, today=TODAY)
    assert [(r["channel"], r["new"], r["retained_7d_rate"]) for r in rows] == [("new", 1, None)]
