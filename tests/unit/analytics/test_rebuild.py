"""The rebuild's pure decisions: which ``from`` is accepted, each reader's state from the
raw log, and which broadcasts are measured again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.analytics.facts import BROADCAST, FOLLOW, INTERACTION, UNFOLLOW, Fact
from services.analytics.rebuild import (
    InvalidFrom,
    ReaderState,
    Rebuilt,
    Submitted,
    due_broadcasts,
    first_day,
    raw_start,
    reader_states,
)

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 12, 10)


def fact(
    kind: str,
    at: datetime,
    openid: str = "",
    key: str | None = None,
    id_: str | None = None,
    broadcast: tuple[str, str] | None = None,
) -> Fact:
    local = at.astimezone(ZONE)
    return Fact(
        id=id_ or f"{kind}-{openid}-{at.isoformat()}",
        kind=kind,
        type={FOLLOW: "event.subscribe", UNFOLLOW: "event.unsubscribe"}.get(kind, "msg.text"),
        at=at,
        day=local.date().isoformat(),
        hour=local.hour,
        weekday=local.weekday(),
        openid=openid,
        key=key,
        broadcast_id=broadcast[0] if broadcast else None,
        run_id=broadcast[1] if broadcast else None,
    )


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time on December ``day`` in Shanghai, as UTC."""
    return datetime(2026, 12, day, hour, minute, second, tzinfo=ZONE).astimezone(UTC)


# from


def test_the_raw_log_starts_raw_days_minus_one_before_today() -> None:
    assert raw_start(TODAY, 35) == date(2026, 11, 6)
    assert raw_start(TODAY, 1) == TODAY


@pytest.mark.parametrize("raw", ["2026-11-06", "2026-12-01", "2026-12-10"])
def test_a_day_from_the_raw_logs_first_to_today_is_accepted(raw: str) -> None:
    assert first_day(raw, today=TODAY, raw_days=35) == date.fromisoformat(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2026-11-05", "from: the raw log starts at 2026-11-06 (it keeps 35 days); "),
        ("2025-12-10", "from: the raw log starts at 2026-11-06"),
        ("2026-12-11", "from: after today (2026-12-10 in the account's timezone)"),
        ("2026-02-30", "from: not a calendar date"),
        ("2026-13-01", "from: not a calendar date"),
        ("2026-12-1", "from: a date, YYYY-MM-DD"),
        ("20261201", "from: a date, YYYY-MM-DD"),
        ("2026-12-01\n", "from: a date, YYYY-MM-DD"),
        ("2026-12-01T00:00", "from: a date, YYYY-MM-DD"),
        ("٢٠٢٦-١٢-٠١", "from: a date, YYYY-MM-DD"),  # Arabic-Indic digits
        ("", "from: a date, YYYY-MM-DD"),
        (20261201, "from: a date, YYYY-MM-DD"),
        (None, "from: a date, YYYY-MM-DD"),
        (["2026-12-01"], "from: a date, YYYY-MM-DD"),
    ],
)
def test_other_days_and_non_dates_are_refused_saying_why(raw: object, message: str) -> None:
    with pytest.raises(InvalidFrom) as refused:
        first_day(raw, today=TODAY, raw_days=35)
    assert str(refused.value).startswith(message)


# readers


def test_each_reader_gets_their_latest_follow_fact_and_their_latest_subscribes_channel() -> None:
    facts = [
        fact(FOLLOW, local(1, 9), "a", key="qr_a"),  # before since: gives a's channel
        fact(UNFOLLOW, local(5, 13), "a"),
        fact(FOLLOW, local(6, 8), "b", key="qr_b"),
        fact(UNFOLLOW, local(7, 9), "c"),  # c's subscribe is older than the raw log
        fact(FOLLOW, local(6, 8), "e"),  # no scene
        fact(UNFOLLOW, local(6, 20), "e"),
        fact(FOLLOW, local(8, 8), "e", key="qr_e"),
        fact(FOLLOW, local(2, 8), "d", key="qr_d"),  # nothing since: left out
        fact(INTERACTION, local(9, 8), "d"),
    ]
    states = reader_states(reversed(facts), since="2026-12-05")  # any order
    assert states == {
        "a": ReaderState("a", UNFOLLOW, local(5, 13), "qr_a", channel_known=True),
        "b": ReaderState("b", FOLLOW, local(6, 8), "qr_b", channel_known=True),
        "c": ReaderState("c", UNFOLLOW, local(7, 9), None, channel_known=False),
        "e": ReaderState("e", FOLLOW, local(8, 8), "qr_e", channel_known=True),
    }


def test_the_since_day_is_tenant_local_and_inclusive() -> None:
    at = local(5, 0, 30)  # 2026-12-04 16:30 UTC, already the 5th in Shanghai
    assert set(reader_states([fact(FOLLOW, at, "a")], since="2026-12-05")) == {"a"}
    assert reader_states([fact(FOLLOW, at, "a")], since="2026-12-06") == {}


def test_a_subscribe_after_the_latest_fact_gives_no_channel_and_a_none_scene_is_known() -> None:
    facts = [fact(FOLLOW, local(6, 8), "a"), fact(UNFOLLOW, local(6, 9), "a")]
    [state] = reader_states(facts, since="2026-12-01").values()
    assert (state.channel, state.channel_known) == (None, True)  # subscribed without a scene


def test_of_facts_in_the_same_second_the_greater_id_wins_whatever_their_order() -> None:
    at = local(6, 8)
    follow = fact(FOLLOW, at, "a", key="qr", id_="id-2")
    unfollow = fact(UNFOLLOW, at, "a", id_="id-1")
    for facts in ([follow, unfollow], [unfollow, follow]):
        assert reader_states(facts, since="2026-12-01")["a"].follow == FOLLOW


def test_a_reader_doc_is_the_state_with_the_stored_channel_only_when_unknown() -> None:
    known = ReaderState("a", FOLLOW, local(6, 8), "qr_a", channel_known=True)
    unknown = ReaderState("c", UNFOLLOW, local(7, 9), None, channel_known=False)
    assert known.to_doc("stale") == {
        "_id": "a",
        "follow": FOLLOW,
        "follow_at": local(6, 8),
        "channel": "qr_a",
    }
    assert unknown.to_doc("qr_old")["channel"] == "qr_old"
    assert unknown.to_doc()["channel"] is None


# broadcasts


def test_broadcasts_since_the_day_whose_24_hours_passed_are_measured_once_per_run() -> None:
    now = local(10, 12)
    facts = [
        fact(BROADCAST, local(4, 20), broadcast=("b0", "r0")),  # before since
        fact(BROADCAST, local(5, 12), broadcast=("b1", "r1")),
        fact(BROADCAST, local(5, 13), broadcast=("b1", "r1"), id_="again"),  # the latest wins
        fact(BROADCAST, local(9, 12), broadcast=("b2", "r2")),  # exactly 24 h ago
        fact(BROADCAST, local(9, 12, 0, 1), broadcast=("b3", "r3")),  # a second short
        fact(BROADCAST, local(6, 12)),  # no ids: nothing to measure
        fact(UNFOLLOW, local(6, 12), "a"),
    ]
    assert due_broadcasts(facts, since="2026-12-05", now=now) == [
        Submitted("b1", "r1", local(5, 13)),
        Submitted("b2", "r2", local(9, 12)),
    ]
    assert now - local(9, 12) == timedelta(hours=24)


def test_the_answer_names_from_and_the_counts() -> None:
    done = Rebuilt("acme", date(2026, 12, 5), readers=4, days_dropped=2, impacts=1)
    assert done.to_json() == {
        "tenant_id": "acme",
        "from": "2026-12-05",
        "readers": 4,
        "days_dropped": 2,
        "impacts": 1,
    }
