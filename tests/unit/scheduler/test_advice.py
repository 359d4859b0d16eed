"""Warnings: a busy week, readers lost after the previous broadcast, sleeping hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.scheduler.advice import BroadcastWarning, warnings_for

TZ = "Asia/Shanghai"
DUE = datetime(2026, 12, 4, 12, tzinfo=UTC)  # Friday 20:00 in Shanghai


def codes(
    due: datetime | None = DUE,
    nearby: list[datetime] | None = None,
    max_per_week: int = 3,
    last_lift: float | None = None,
    timezone: str = TZ,
) -> list[str]:
    found = warnings_for(
        due=due,
        timezone=timezone,
        nearby=nearby or [],
        max_per_week=max_per_week,
        last_lift=last_lift,
    )
    for warning in found:
        assert warning.message.endswith(".")
        assert warning.to_json() == {"code": warning.code, "message": warning.message}
    return [warning.code for warning in found]


def test_a_quiet_evening_broadcast_has_no_warnings() -> None:
    assert codes() == []


def test_more_than_the_weekly_number_counting_this_one() -> None:
    days = [DUE - timedelta(days=d) for d in (1, 2)]
    assert codes(nearby=days) == []  # 3 in the week: not more than 3
    assert codes(nearby=[*days, DUE - timedelta(days=6, hours=23)]) == ["busy_week"]
    assert codes(nearby=[*days, DUE]) == ["busy_week"]  # another one at the same time


def test_only_the_seven_days_ending_at_due_count() -> None:
    outside = [DUE - timedelta(days=7), DUE + timedelta(hours=1), DUE - timedelta(days=30)]
    assert codes(nearby=[DUE - timedelta(days=1), DUE - timedelta(days=2), *outside]) == []


def test_the_previous_broadcast_lost_readers() -> None:
    assert codes(last_lift=2.0) == []
    assert codes(last_lift=2.4) == ["previous_lost_readers"]
    assert codes(due=None, last_lift=3.0) == ["previous_lost_readers"]
    found = warnings_for(due=None, timezone=TZ, nearby=[], max_per_week=1, last_lift=3.0)
    assert found == [
        BroadcastWarning(
            "previous_lost_readers",
            "The previous broadcast lost readers 3.0 times faster than usual within 24 hours.",
        )
    ]


def test_sending_outside_seven_to_eleven_local() -> None:
    local = {"06:59": True, "07:00": False, "22:59": False, "23:00": True, "03:00": True}
    for hhmm, warned in local.items():
        due = datetime.fromisoformat(f"2026-12-04T{hhmm}+08:00")
        assert (codes(due=due) == ["outside_reading_hours"]) is warned, hhmm
    assert codes(due=DUE, timezone="America/New_York") == []  # 07:00 EST
    early = codes(due=DUE - timedelta(minutes=1), timezone="America/New_York")
    assert early == ["outside_reading_hours"]


def test_every_warning_at_once_in_order() -> None:
    late = DUE + timedelta(hours=4)  # midnight in Shanghai
    crowded = [late - timedelta(days=1)] * 3
    assert codes(due=late, nearby=crowded, last_lift=5.0) == [
        "busy_week",
        "previous_lost_readers",
        "outside_reading_hours",
    ]
