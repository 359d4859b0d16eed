"""The claims on customer-service replies, pure: what a taken claim means, and the quota
while sends are in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.replies.claims import (
    ABANDONED,
    CALLING,
    CHECKING,
    MAX_ATTEMPTS,
    Claim,
    ClaimTiming,
    after_taken,
    attempt_ids,
    may_call,
    quota_verdict,
    stamp,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TIMING = ClaimTiming(lease=timedelta(seconds=10), stale=timedelta(seconds=30))


def claim(
    event_id: str = "e1",
    *,
    ago: float = 0,
    status: str = "sending",
    stage: str = CHECKING,
    attempt: int = 0,
) -> Claim:
    return Claim(event_id, attempt, "o1", "r1", NOW - timedelta(seconds=ago), status, stage)


def test_attempts_are_numbered_after_the_event_id() -> None:
    assert claim().id == "e1"
    assert claim(attempt=2).id == "e1~2"
    assert attempt_ids("e1") == ["e1", *(f"e1~{n}" for n in range(1, MAX_ATTEMPTS))]


def test_a_stamp_keeps_milliseconds_as_the_database_does() -> None:
    assert stamp(NOW.replace(microsecond=123_456)) == NOW.replace(microsecond=123_000)


@pytest.mark.parametrize(
    ("attempts", "action", "attempt"),
    [
        ([], "claim", 0),  # released meanwhile
        ([claim(status="sent")], "duplicate", 0),
        ([claim(status="refused_user_blocked")], "duplicate", 0),
        ([claim(ago=29)], "busy", 0),
        ([claim(ago=29, stage=CALLING)], "busy", 0),
        ([claim(ago=31, stage=CALLING)], "unknown", 0),
        ([claim(ago=31, stage="")], "unknown", 0),  # any stage but checking may have called
        ([claim(ago=31)], "claim", 1),
        ([claim(ago=99, status=ABANDONED), claim(ago=31, attempt=1)], "claim", 2),
        ([claim(ago=99, status=ABANDONED)], "claim", 1),  # its successor was released
        ([claim(ago=99, status=ABANDONED), claim(attempt=1, status="sent")], "duplicate", 0),
    ],
)
def test_what_a_taken_claim_means(attempts: list[Claim], action: str, attempt: int) -> None:
    taken = after_taken(attempts, NOW, TIMING)
    assert (taken.action, taken.attempt) == (action, attempt)


def test_only_a_stale_checking_claim_is_abandoned_for_the_next_attempt() -> None:
    stale = claim(ago=31)
    assert after_taken([stale], NOW, TIMING).abandon == stale
    assert after_taken([claim(ago=99, status=ABANDONED)], NOW, TIMING).abandon is None


def test_the_last_attempt_gives_up() -> None:
    last = claim(ago=31, attempt=MAX_ATTEMPTS - 1)
    assert after_taken([last], NOW, TIMING).action == "gave_up"


MINE = claim("mine", ago=1)


@pytest.mark.parametrize(
    ("others", "verdict"),
    [
        ([], "go"),
        ([MINE], "go"),  # itself
        ([claim("a", status="sent")], "exhausted"),
        ([claim("a", status="unknown")], "exhausted"),  # may have used the quota
        ([claim("a", status="quota_exhausted")], "go"),
        ([claim("a", status="refused_not_following")], "go"),
        ([claim("a", status=ABANDONED)], "go"),
        ([claim("a", ago=31, stage=CALLING)], "exhausted"),  # stale, may have sent
        ([claim("a", ago=31)], "go"),  # stale and still checking: never will
        ([claim("a", ago=2)], "wait"),  # older, in flight: ahead of mine
        ([claim("a", ago=0)], "go"),  # younger and still checking: it waits for mine
        ([claim("a", ago=0, stage=CALLING)], "wait"),  # younger but already calling
    ],
)
def test_the_quota_with_one_message_left(others: list[Claim], verdict: str) -> None:
    assert quota_verdict(MINE, others, 1, NOW, TIMING) == verdict


def test_equal_times_are_ordered_by_id() -> None:
    a, b = claim("a", ago=1), claim("b", ago=1)
    assert quota_verdict(a, [b], 1, NOW, TIMING) == "go"
    assert quota_verdict(b, [a], 1, NOW, TIMING) == "wait"


def test_the_quota_counts_in_flight_and_spent_together() -> None:
    others = [claim("a", status="sent"), claim("b", ago=2)]
    assert quota_verdict(MINE, others, 2, NOW, TIMING) == "wait"
    assert quota_verdict(MINE, others, 3, NOW, TIMING) == "go"


@pytest.mark.parametrize(
    ("others", "allowed"),
    [
        ([], True),
        ([MINE], True),
        ([claim("a", ago=0)], True),  # still checking: it will see mine calling
        ([claim("a", ago=0, stage=CALLING)], False),
        ([claim("a", ago=99, stage=CALLING)], False),
        ([claim("a", status="sent")], False),
        ([claim("a", status="unknown")], False),
        ([claim("a", status="outside_window")], True),
    ],
)
def test_after_marking_itself_calling_a_claim_counts_every_other_calling_one(
    others: list[Claim], allowed: bool
) -> None:
    assert may_call(MINE, others, 1) is allowed


def test_two_claims_racing_for_the_last_message_cannot_both_call() -> None:
    """Whatever the order of their marks and re-counts, the later re-count sees the other."""
    a, b = claim("a", ago=1, stage=CALLING), claim("b", ago=2, stage=CALLING)
    a_before_b_marked = may_call(a, [claim("b", ago=2)], 1)
    b_after_a_marked = may_call(b, [a], 1)
    assert (a_before_b_marked, b_after_a_marked) == (True, False)
    assert may_call(a, [b], 1) is False
