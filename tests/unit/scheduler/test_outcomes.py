"""Mass-send answers become submitted, failed or retry; job-finish statuses in words."""

from __future__ import annotations

import pytest

from services.scheduler import outcomes
from services.scheduler.outcomes import MAX_ATTEMPTS, SendOutcome, Verdict, classify, job_status


@pytest.mark.parametrize(
    ("errcode", "expected"),
    [
        (0, SendOutcome(Verdict.SUBMITTED, None, None)),
        (45065, SendOutcome(Verdict.SUBMITTED, "already_submitted", None)),
        (45028, SendOutcome(Verdict.FAILED, "no_quota", None)),
        (48001, SendOutcome(Verdict.FAILED, "unauthorized", None)),
        (40007, SendOutcome(Verdict.FAILED, "invalid_media", None)),
        (40130, SendOutcome(Verdict.FAILED, "too_few_openids", None)),
        (45009, SendOutcome(Verdict.RETRY, "daily_api_limit", 3600)),
        (9500002, SendOutcome(Verdict.RETRY, "too_many_tasks", 600)),
        (45011, SendOutcome(Verdict.RETRY, "minute_limit", 60)),
        (-1, SendOutcome(Verdict.RETRY, "transient", 2)),
        (-2, SendOutcome(Verdict.RETRY, "transient", 2)),
        (40001, SendOutcome(Verdict.FAILED, "wechat_40001", None)),
    ],
)
def test_the_first_attempts_answer(errcode: int, expected: SendOutcome) -> None:
    assert classify(errcode, 1) == expected


def test_transient_errors_back_off_exponentially_up_to_five_minutes() -> None:
    waits = [classify(-2, attempt).retry_after for attempt in range(1, MAX_ATTEMPTS)]
    assert waits == [2, 4, 8, 16, 32, 64, 128]
    assert classify(-1, 0).retry_after == 2
    assert MAX_ATTEMPTS == 8


def test_the_backoff_is_capped_at_five_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcomes, "MAX_ATTEMPTS", 20)
    assert classify(-1, 8).retry_after == 256
    assert classify(-1, 9).retry_after == 300
    assert classify(-2, 19).retry_after == 300


@pytest.mark.parametrize("errcode", [-1, -2, 45009, 9500002, 45011])
def test_after_the_last_attempt_a_retry_fails_with_its_reason(errcode: int) -> None:
    before = classify(errcode, MAX_ATTEMPTS - 1)
    after = classify(errcode, MAX_ATTEMPTS)
    assert before.verdict is Verdict.RETRY
    assert after == SendOutcome(Verdict.FAILED, before.reason, None)
    assert classify(errcode, MAX_ATTEMPTS + 3).verdict is Verdict.FAILED


def test_an_already_used_clientmsgid_is_never_a_failure() -> None:
    for attempt in (1, MAX_ATTEMPTS, 100):
        assert classify(45065, attempt).verdict is Verdict.SUBMITTED


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("send success", "sent"),
        ("send fail", "failed"),
        ("err(10001)", "refused: advertising"),
        ("err(20001)", "refused: politics"),
        ("err(20002)", "refused: pornography"),
        ("err(20004)", "refused: society"),
        ("err(20006)", "refused: crime"),
        ("err(20008)", "refused: fraud"),
        ("err(20013)", "refused: copyright"),
        ("err(21000)", "refused: other policy"),
        ("err(22000)", "refused: mutual promotion"),
        ("err(30001)", "refused: originality check system error"),
        ("err(30002)", "refused: originality check: not allowed to send"),
        ("err(30003)", "refused: originality check: judged a reprint"),
        ("err(40001)", "refused: admin refused"),
        ("err(40002)", "refused: admin did not confirm in time"),
        ("err(99999)", "refused: error 99999"),
        ("Send Success", "sent"),
        ("Something New", "something new"),
    ],
)
def test_job_finish_statuses_in_words(status: str, words: str) -> None:
    assert job_status(status) == words
