"""Due times: at, cron in the tenant's timezone (DST included), best_on; run ids."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.scheduler.schedule import (
    DEFAULT_HOUR,
    At,
    BestOn,
    Cron,
    due_from_run_id,
    first_due,
    next_due,
    run_id_for,
    schedule_from_json,
    schedule_to_json,
)

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # Tuesday 12:00 in Asia/Shanghai
TZ = "Asia/Shanghai"
NY, BERLIN = "America/New_York", "Europe/Berlin"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_at_is_due_at_its_instant_while_it_is_ahead() -> None:
    at = At(utc(2026, 12, 4, 12))
    assert first_due(at, timezone=TZ, now=NOW) == utc(2026, 12, 4, 12)
    assert first_due(at, timezone=TZ, now=utc(2026, 12, 4, 12)) is None
    assert next_due(at, timezone=TZ, after=NOW) is None


def test_best_on_goes_out_at_the_advised_hour_or_at_eight_in_the_evening() -> None:
    friday = BestOn(date(2026, 12, 4))
    assert DEFAULT_HOUR == 20
    assert first_due(friday, timezone=TZ, now=NOW) == utc(2026, 12, 4, 12)
    assert first_due(friday, timezone=TZ, now=NOW, advice_hour=9) == utc(2026, 12, 4, 1)
    assert first_due(friday, timezone=TZ, now=NOW, advice_hour=0) == utc(2026, 12, 3, 16)
    assert first_due(friday, timezone=TZ, now=NOW, advice_hour=None) == utc(2026, 12, 4, 12)
    assert first_due(friday, timezone=TZ, now=NOW, advice_hour=24) == utc(2026, 12, 4, 12)
    assert next_due(friday, timezone=TZ, after=NOW) is None


def test_best_on_today_after_its_hour_has_no_due_time() -> None:
    today = BestOn(date(2026, 12, 1))  # it is 12:00 in Shanghai
    assert first_due(today, timezone=TZ, now=NOW, advice_hour=11) is None
    assert first_due(today, timezone=TZ, now=NOW, advice_hour=13) == utc(2026, 12, 1, 5)


def test_cron_runs_in_the_tenants_timezone_strictly_after_now() -> None:
    fridays = Cron("0 20 * * 5")
    first = first_due(fridays, timezone=TZ, now=NOW)
    assert first == utc(2026, 12, 4, 12)
    assert first_due(fridays, timezone=TZ, now=utc(2026, 12, 4, 12)) == utc(2026, 12, 11, 12)
    assert next_due(fridays, timezone=TZ, after=utc(2026, 12, 4, 12)) == utc(2026, 12, 11, 12)


def test_cron_until_is_an_inclusive_local_date() -> None:
    fridays = Cron("0 20 * * 5", until=date(2026, 12, 11))
    assert next_due(fridays, timezone=TZ, after=utc(2026, 12, 4, 12)) == utc(2026, 12, 11, 12)
    assert next_due(fridays, timezone=TZ, after=utc(2026, 12, 11, 12)) is None
    # 07:00 local on the 12th is still the 11th in UTC: the local date decides
    early = Cron("0 7 * * *", until=date(2026, 12, 11))
    assert next_due(early, timezone=TZ, after=utc(2026, 12, 10, 0)) == utc(2026, 12, 10, 23)
    assert next_due(early, timezone=TZ, after=utc(2026, 12, 10, 23)) is None


def test_cron_across_a_month_and_year_end() -> None:
    monthly = Cron("30 9 1 * *")
    assert next_due(monthly, timezone=TZ, after=utc(2026, 12, 1, 2)) == utc(2027, 1, 1, 1, 30)


def test_a_time_skipped_by_dst_runs_at_the_end_of_the_gap() -> None:
    nightly = Cron("30 2 * * *")
    before = utc(2026, 3, 7, 12)  # New York springs forward at 02:00 on 8 March
    first = first_due(nightly, timezone=NY, now=before)
    assert first == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert next_due(nightly, timezone=NY, after=first) == utc(2026, 3, 9, 6, 30)  # 02:30 EDT
    berlin = first_due(nightly, timezone=BERLIN, now=utc(2026, 3, 28, 12))
    assert berlin == utc(2026, 3, 29, 1)  # 03:00 CEST


def test_a_time_repeated_by_dst_runs_once() -> None:
    nightly = Cron("30 1 * * *")
    first = first_due(nightly, timezone=NY, now=utc(2026, 10, 31, 12))  # falls back 1 Nov
    assert first == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, the first of the two
    assert next_due(nightly, timezone=NY, after=first) == utc(2026, 11, 2, 6, 30)  # EST
    # created during the second 01:xx: the first 01:30 has passed, so not today again
    assert first_due(nightly, timezone=NY, now=utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30)


def test_an_hourly_cron_keeps_an_hour_apart_through_the_repeated_hour() -> None:
    hourly, due, seen = Cron("0 * * * *"), utc(2026, 11, 1, 3), []
    for _ in range(5):
        found = next_due(hourly, timezone=NY, after=due)
        assert found is not None
        seen.append(found)
        due = found
    assert seen == [utc(2026, 11, 1, hour) for hour in range(4, 9)]


def test_run_ids_name_the_due_instant_in_utc_and_back() -> None:
    due = utc(2026, 12, 4, 12)
    assert run_id_for(due) == "r20261204T120000Z"
    shanghai = datetime.fromisoformat("2026-12-04T20:00:00+08:00")
    assert run_id_for(shanghai) == "r20261204T120000Z"
    assert due_from_run_id("r20261204T120000Z") == due
    assert due_from_run_id(run_id_for(utc(2027, 1, 31, 23, 59, 59))) == utc(2027, 1, 31, 23, 59, 59)


@pytest.mark.parametrize("run_id", ["20261204T120000Z", "r20261204T120000", "r20261304T120000Z"])
def test_a_malformed_run_id_is_a_value_error(run_id: str) -> None:
    with pytest.raises(ValueError, match=r"run id|does not match|month"):
        due_from_run_id(run_id)


def test_a_naive_due_has_no_run_id() -> None:
    with pytest.raises(ValueError, match="aware"):
        run_id_for(datetime(2026, 12, 4, 12))  # naive on purpose


@pytest.mark.parametrize(
    ("schedule", "data"),
    [
        (At(utc(2026, 12, 4, 12)), {"at": "2026-12-04T12:00:00Z"}),
        (Cron("0 20 * * 5"), {"cron": "0 20 * * 5"}),
        (Cron("0 20 * * 5", date(2026, 12, 31)), {"cron": "0 20 * * 5", "until": "2026-12-31"}),
        (BestOn(date(2026, 12, 4)), {"best_on": "2026-12-04"}),
    ],
)
def test_schedules_to_json_and_back(schedule: At | Cron | BestOn, data: dict[str, str]) -> None:
    assert schedule_to_json(schedule) == data
    assert schedule_from_json(data) == schedule
