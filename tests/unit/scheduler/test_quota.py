"""Quota periods in the tenant's calendar, when the next send fits, readers' monthly cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.scheduler.quota import (
    READER_MONTHLY_LIMIT,
    Period,
    QuotaView,
    limit_of,
    next_allowed_at,
    over_reader_limit,
    period_of,
    reader_period,
)

TZ, NY = "Asia/Shanghai", "America/New_York"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_limits() -> None:
    assert limit_of("subscription") == 1
    assert limit_of("service") == 4
    assert READER_MONTHLY_LIMIT == 4
    with pytest.raises(ValueError, match="unknown account type"):
        limit_of("enterprise")


def test_a_subscription_account_counts_local_days() -> None:
    # 2026-12-03T17:00Z is 01:00 on the 4th in Shanghai
    assert period_of("subscription", utc(2026, 12, 3, 17), TZ) == Period(
        "2026-12-04", utc(2026, 12, 3, 16), utc(2026, 12, 4, 16)
    )
    assert period_of("subscription", utc(2026, 12, 3, 15, 59, 59), TZ).key == "2026-12-03"


def test_a_service_account_counts_local_months() -> None:
    # 2026-11-30T16:30Z is 00:30 on 1 December in Shanghai
    assert period_of("service", utc(2026, 11, 30, 16, 30), TZ) == Period(
        "2026-12", utc(2026, 11, 30, 16), utc(2026, 12, 31, 16)
    )
    assert period_of("service", utc(2026, 11, 30, 15, 30), TZ).key == "2026-11"
    assert reader_period(utc(2026, 12, 31, 17), TZ) == Period(
        "2027-01", utc(2026, 12, 31, 16), utc(2027, 1, 31, 16)
    )


def test_days_around_dst_changes_are_23_and_25_hours_long() -> None:
    spring = period_of("subscription", utc(2026, 3, 8, 12), NY)
    autumn = period_of("subscription", utc(2026, 11, 1, 12), NY)
    assert (spring.key, spring.end - spring.start) == ("2026-03-08", timedelta(hours=23))
    assert (autumn.key, autumn.end - autumn.start) == ("2026-11-01", timedelta(hours=25))
    assert autumn.start == utc(2026, 11, 1, 4)


def test_a_day_whose_midnight_is_skipped_starts_after_the_gap() -> None:
    # Chile springs forward at local midnight: 2026-09-06 begins at 01:00 -03 (04:00Z)
    day = period_of("subscription", utc(2026, 9, 6, 12), "America/Santiago")
    before = period_of("subscription", utc(2026, 9, 5, 12), "America/Santiago")
    assert (day.key, day.start, before.end) == ("2026-09-06", utc(2026, 9, 6, 4), day.start)


def test_a_send_fits_where_asked_when_its_period_has_room() -> None:
    at = utc(2026, 12, 4, 2)  # 10:00 on the 4th in Shanghai
    assert next_allowed_at("subscription", TZ, taken={}, at=at) == at
    assert next_allowed_at("subscription", TZ, taken={"2026-12-03": 1}, at=at) == at
    assert next_allowed_at("service", TZ, taken={"2026-12": 3}, at=at) == at


def test_a_full_day_rolls_to_the_next_local_midnight_with_room() -> None:
    at = utc(2026, 12, 4, 2)
    full = {"2026-12-04": 1}
    assert next_allowed_at("subscription", TZ, taken=full, at=at) == utc(2026, 12, 4, 16)
    full = {"2026-12-04": 1, "2026-12-05": 1, "2026-12-06": 2}
    assert next_allowed_at("subscription", TZ, taken=full, at=at) == utc(2026, 12, 6, 16)


def test_a_full_month_rolls_to_the_next_local_month_across_the_year() -> None:
    at = utc(2026, 12, 10)
    assert next_allowed_at("service", TZ, taken={"2026-12": 4}, at=at) == utc(2026, 12, 31, 16)
    both = {"2026-12": 4, "2027-01": 5}
    assert next_allowed_at("service", TZ, taken=both, at=at) == utc(2027, 1, 31, 16)


def test_the_quota_view_shows_instants_in_utc() -> None:
    view = QuotaView(
        "service", "2026-12", 3, 1, 4, datetime.fromisoformat("2027-01-01T00:00+08:00")
    )
    assert view.to_json() == {
        "account_type": "service",
        "period": "2026-12",
        "used": 3,
        "reserved": 1,
        "limit": 4,
        "next_allowed_at": "2026-12-31T16:00:00Z",
    }


def test_readers_over_their_monthly_list_sends_are_left_out() -> None:
    counts = {"oA": 4, "oB": 3, "oC": 5}
    assert over_reader_limit(counts, ["oA", "oB", "oC", "oD"]) == (["oB", "oD"], ["oA", "oC"])
    assert over_reader_limit({}, ["oA", "oB"]) == (["oA", "oB"], [])
