"""What WeChat's answers mean for a run: the mass-send errcode (submitted, failed, or retry
later) and the status in a MASSSENDJOBFINISH report. Pure.

The answer to a send is classified in one place, so every caller shares one failure
policy: errors that waiting can cure are retried, the rest fail with a reason.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Verdict(enum.Enum):
    SUBMITTED = "submitted"
    FAILED = "failed"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class SendOutcome:
    verdict: Verdict
    reason: str | None
    retry_after: float | None  # seconds, for RETRY only


MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
TRANSIENT = frozenset({-1, -2})  # -1: WeChat busy; -2: ours for an HTTP/transport failure
ALREADY_SUBMITTED = 45065  # clientmsgid used within 24 h: the earlier send stands
FAILURES = {
    45028: "no_quota",
    48001: "unauthorized",
    40007: "invalid_media",
    40130: "too_few_openids",
}
WAITS = {  # errcode -> (reason, seconds until a retry can help)
    45009: ("daily_api_limit", 3600.0),
    9500002: ("too_many_tasks", 600.0),
    45011: ("minute_limit", 60.0),
}
REFUSALS = {
    10001: "advertising",
    20001: "politics",
    20002: "pornography",
    20004: "society",
    20006: "crime",
    20008: "fraud",
    20013: "copyright",
    21000: "other policy",
    22000: "mutual promotion",
    30001: "originality check system error",
    30002: "originality check: not allowed to send",
    30003: "originality check: judged a reprint",
    40001: "admin refused",
    40002: "admin did not confirm in time",
}
ERR = re.compile(r"err\(([0-9]+)\)")


def classify(errcode: int, attempt: int) -> SendOutcome:
    """The verdict on a mass-send answer; ``attempt`` counts from 1 (the first try).

    Transient errors back off 2, 4, 8 ... seconds (at most ``MAX_BACKOFF``); from attempt
    ``MAX_ATTEMPTS`` on, whatever would be retried fails instead, keeping its reason.
    """
    if errcode in (0, ALREADY_SUBMITTED):
        return SendOutcome(Verdict.SUBMITTED, "already_submitted" if errcode else None, None)
    if errcode in WAITS:
        reason, wait = WAITS[errcode]
    elif errcode in TRANSIENT:
        reason, wait = "transient", min(2.0 ** max(attempt, 1), MAX_BACKOFF)
    else:
        return SendOutcome(Verdict.FAILED, FAILURES.get(errcode, f"wechat_{errcode}"), None)
    if attempt >= MAX_ATTEMPTS:
        return SendOutcome(Verdict.FAILED, reason, None)
    return SendOutcome(Verdict.RETRY, reason, wait)


def job_status(status: str) -> str:
    """A MASSSENDJOBFINISH ``Status`` in words: sent, failed, or why WeChat refused it."""
    text = status.strip().lower()
    if text == "send success":
        return "sent"
    if text == "send fail":
        return "failed"
    found = ERR.fullmatch(text)
    if found is None:
        return text
    code = int(found.group(1))
    return f"refused: {REFUSALS.get(code, f'error {code}')}"
