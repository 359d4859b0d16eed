"""The broadcasts page's shaping, pure: runs placed on a Monday-first month grid in the
tenant's timezone, runs split into upcoming and finished, the quota's headroom, the
create API's body from the form (every message type, audience and timing), and which input
shows a refused field."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from services.gateway.console.broadcasts_runs import entries_of, split_runs
from services.gateway.console.broadcasts_view import (
    create_body,
    headroom,
    invalid_input,
    month_grid,
    month_of,
    shift_month,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def broadcast(**fields: object) -> dict[str, object]:
    return {
        "id": "b0000000000000000000a",
        "name": "周五新品",
        "message": {"type": "text", "content": "晚八点上线"},
        "status": "scheduled",
        "next_run_at": None,
        "warnings": [],
        "runs": [],
        **fields,
    }


def test_a_month_is_whole_weeks_from_monday_with_neighbours_marked() -> None:
    weeks = month_grid(date(2026, 5, 1), [], today=date(2026, 5, 13))
    assert len(weeks) == 5
    assert all(len(week) == 7 for week in weeks)
    assert weeks[0][0].day == date(2026, 4, 27)  # the Monday before Friday 1 May
    assert weeks[-1][-1].day == date(2026, 5, 31)  # a Sunday
    assert [d.in_month for d in weeks[0]] == [False] * 4 + [True] * 3
    assert [d.day for week in weeks for d in week if d.today] == [date(2026, 5, 13)]


def test_a_month_starting_on_monday_has_no_days_before() -> None:
    weeks = month_grid(date(2026, 6, 1), [], today=date(2026, 1, 1))
    assert weeks[0][0].day == date(2026, 6, 1)
    assert weeks[-1][-1].day == date(2026, 7, 5)


def test_a_run_lands_on_its_local_day_not_its_utc_day() -> None:
    late = broadcast(runs=[{"due_at": "2026-05-01T17:30:00Z", "status": "scheduled"}])
    [entry] = entries_of(late, SHANGHAI)
    assert (entry.at.date(), f"{entry.at:%H:%M}") == (date(2026, 5, 2), "01:30")
    weeks = month_grid(date(2026, 5, 1), [entry], today=date(2026, 5, 1))
    placed = {d.day: [e.name for e in d.entries] for week in weeks for d in week if d.entries}
    assert placed == {date(2026, 5, 2): ["周五新品"]}


def test_runs_of_a_day_are_in_time_order_and_other_months_are_left_out() -> None:
    runs = [
        {"due_at": "2026-05-04T12:00:00Z", "status": "scheduled"},
        {"due_at": "2026-05-04T01:00:00Z", "status": "finished"},
        {"due_at": "2026-08-04T01:00:00Z", "status": "scheduled"},
    ]
    entries = entries_of(broadcast(runs=runs), SHANGHAI)
    weeks = month_grid(date(2026, 5, 1), entries, today=date(2026, 5, 1))
    [day] = [d for week in weeks for d in week if d.entries]
    assert [f"{e.at:%H:%M}" for e in day.entries] == ["09:00", "20:00"]


def test_without_runs_the_next_run_stands_in() -> None:
    [entry] = entries_of(broadcast(next_run_at="2026-05-04T12:00:00Z"), SHANGHAI)
    assert (entry.status, entry.cancellable) == ("scheduled", True)


def test_a_cancelled_broadcasts_open_run_shows_cancelled_and_cannot_be_cancelled() -> None:
    cancelled = broadcast(
        status="cancelled", runs=[{"due_at": "2026-05-04T12:00:00Z", "status": "scheduled"}]
    )
    [entry] = entries_of(cancelled, SHANGHAI)
    assert (entry.status, entry.cancellable) == ("cancelled", False)


def test_warnings_go_with_open_runs_and_results_with_ended_ones() -> None:
    warning = {"code": "outside_reading_hours", "message": "It goes out at 01:30"}
    result = {"status": "SEND_SUCCESS", "total": 40, "filter": 40, "sent": 40, "error": 0}
    runs = [
        {"due_at": "2026-05-01T12:00:00Z", "status": "finished", "msg_id": "1", "result": result},
        {"due_at": "2026-05-08T12:00:00Z", "status": "scheduled"},
        {"due_at": "2026-05-15T12:00:00Z", "status": "scheduled"},
    ]
    entries = entries_of(broadcast(runs=runs, warnings=[warning]), SHANGHAI)
    upcoming, ended = split_runs(entries)
    assert [e.at.day for e in upcoming] == [8, 15]
    assert all(e.warnings == (warning,) for e in upcoming)
    [done] = ended
    assert (done.msg_id, done.result, done.warnings) == ("1", result, ())


def test_ended_runs_are_latest_first() -> None:
    runs = [
        {"due_at": "2026-05-01T12:00:00Z", "status": "finished"},
        {"due_at": "2026-05-03T12:00:00Z", "status": "failed"},
    ]
    _, ended = split_runs(entries_of(broadcast(runs=runs), SHANGHAI))
    assert [e.at.day for e in ended] == [3, 1]


def test_the_month_asked_for_or_today_s() -> None:
    today = date(2026, 5, 13)
    assert month_of("2027-02", today) == date(2027, 2, 1)
    assert month_of(None, today) == date(2026, 5, 1)
    assert month_of("2027-13", today) == date(2026, 5, 1)
    assert month_of("../x", today) == date(2026, 5, 1)
    assert shift_month(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert shift_month(date(2026, 1, 1), -1) == date(2025, 12, 1)


def test_headroom_counts_reserved_slots_and_never_goes_negative() -> None:
    quota = {"limit": 4, "used": 1, "reserved": 2}
    assert headroom(quota) == 1
    assert headroom({**quota, "reserved": 5}) == 0


def test_the_form_becomes_a_text_to_all_at_a_local_time() -> None:
    form = {"name": " 新品 ", "content": "晚八点上线", "at": "2026-05-02T20:00", "csrf": "x"}
    assert create_body(form) == {
        "name": "新品",
        "message": {"type": "text", "content": "晚八点上线"},
        "audience": {"kind": "all"},
        "schedule": {"at": "2026-05-02T20:00"},
    }


def test_the_form_makes_each_message_type_audience_and_timing() -> None:
    def body(**form: str) -> dict[str, object]:
        return create_body({"name": " 周报 ", **form})

    assert body(type="mpnews", media_id=" m1 ", reprint="on", audience="tag", tag_id="7")[
        "message"
    ] == {"type": "mpnews", "media_id": "m1", "send_ignore_reprint": True}
    assert body(type="mpnews", media_id="m1")["message"] == {
        "type": "mpnews",
        "media_id": "m1",
        "send_ignore_reprint": False,
    }
    assert body(type="image", media_ids="i1\n i2, i3\n")["message"] == {
        "type": "image",
        "media_ids": ["i1", "i2", "i3"],
    }
    assert body(type="voice", media_id="v1")["message"] == {"type": "voice", "media_id": "v1"}
    assert body(type="text", content="hi", media_id="ignored")["message"] == {
        "type": "text",
        "content": "hi",
    }
    assert body(audience="tag", tag_id=" 7 ")["audience"] == {"kind": "tag", "tag_id": 7}
    assert body(audience="tag", tag_id="seven")["audience"] == {"kind": "tag", "tag_id": "seven"}
    assert body(audience="tag", tag_id="²")["audience"] == {"kind": "tag", "tag_id": "²"}
    assert body(audience="all", tag_id="7")["audience"] == {"kind": "all"}
    assert body(when="best_on", best_on="2026-05-02", at="x")["schedule"] == {
        "best_on": "2026-05-02"
    }
    assert body(when="cron", cron=" 0 20 * * 5 ", until="")["schedule"] == {"cron": "0 20 * * 5"}
    assert body(when="cron", cron="0 20 * * 5", until="2026-06-01")["schedule"] == {
        "cron": "0 20 * * 5",
        "until": "2026-06-01",
    }
    assert body(at="2026-05-02T20:00")["schedule"] == {"at": "2026-05-02T20:00"}


def test_a_refused_field_is_shown_on_the_input_that_holds_it() -> None:
    assert invalid_input(None, {}) is None
    assert invalid_input("message.content", {}) == "content"
    assert invalid_input("message.media_ids[1]", {}) == "media_ids"
    assert invalid_input("message.media_id", {}) == "media_id"
    assert invalid_input("message.type", {}) == "type"
    assert invalid_input("audience.tag_id", {}) == "tag_id"
    assert invalid_input("schedule.cron", {}) == "cron"
    assert invalid_input("schedule.until", {}) == "until"
    assert invalid_input("schedule", {"when": "best_on"}) == "best_on"  # e.g. the quota
    assert invalid_input("schedule", {}) == "at"
    assert invalid_input("message", {"type": "image"}) == "media_ids"
    assert invalid_input("name", {}) == "name"
