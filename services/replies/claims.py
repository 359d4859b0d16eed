"""Claims on customer-service replies, pure: how a fallback sends at most once, counts
toward the reader's quota while it is in flight, and never stays ``sending``.

An event's claims are one document per attempt (``_id`` the event id, then ``{id}~1``,
``{id}~2``, ...), inserted under a unique key, so only one handler holds an attempt. The
holder checks the window and the quota, marks its claim ``calling``, checks the quota once
more, and calls WeChat only within ``lease`` of claiming. So a claim still ``checking``
after ``stale`` (the lease plus room for clock skew) certainly sent nothing: its holder is
gone, and the next attempt may take over. A stale claim that got as far as ``calling``
may have sent: it ends ``unknown``, never sent again.

Quota: a claim counts while it is ``sending`` and after it ends ``sent`` or ``unknown``.
Before calling, a claim waits for the in-flight claims ahead of it (older ones, and any
already ``calling``); after marking itself ``calling`` it counts every other ``calling``
or final claim, so two handlers racing for the last message cannot both call: the later
of the two re-counts sees the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

SENDING, ABANDONED, UNKNOWN, GAVE_UP = "sending", "abandoned", "unknown", "gave_up"
CHECKING, CALLING = "checking", "calling"  # how far a ``sending`` claim got
USED = frozenset({"sent", UNKNOWN})  # final statuses that spent (or may have spent) quota
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class ClaimTiming:
    lease: timedelta = timedelta(seconds=10)  # a holder calls WeChat within it, or never
    stale: timedelta = timedelta(seconds=30)  # older than this, a claim has lost its holder


@dataclass(frozen=True, slots=True)
class Claim:
    event_id: str
    attempt: int
    openid: str
    rule_id: str
    at: datetime  # when it was claimed, to the millisecond (what the database keeps)
    status: str = SENDING
    stage: str = CHECKING

    @property
    def id(self) -> str:
        return attempt_id(self.event_id, self.attempt)

    @property
    def order(self) -> tuple[datetime, str]:
        return self.at, self.id

    def stale(self, now: datetime, timing: ClaimTiming) -> bool:
        return self.status == SENDING and now - self.at > timing.stale


def stamp(now: datetime) -> datetime:
    """``now`` to the millisecond, as a stored claim's time reads back."""
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def attempt_id(event_id: str, attempt: int) -> str:
    return event_id if attempt == 0 else f"{event_id}~{attempt}"


def attempt_ids(event_id: str) -> list[str]:
    return [attempt_id(event_id, n) for n in range(MAX_ATTEMPTS)]


Action = Literal["duplicate", "busy", "unknown", "gave_up", "claim"]


@dataclass(frozen=True, slots=True)
class Taken:
    """What to do when an event's first claim is taken: ``claim`` the attempt ``attempt``
    (after which ``abandon`` is marked abandoned), or settle ``latest``."""

    action: Action
    latest: Claim | None = None
    attempt: int = 0
    abandon: Claim | None = None


def after_taken(attempts: Sequence[Claim], now: datetime, timing: ClaimTiming) -> Taken:
    if not attempts:  # released since: free again
        return Taken("claim")
    latest = max(attempts, key=lambda claim: claim.attempt)
    if latest.status == ABANDONED:  # its successor was released: free again
        return Taken("claim", latest, latest.attempt + 1)
    if latest.status != SENDING:
        return Taken("duplicate", latest)
    if not latest.stale(now, timing):
        return Taken("busy", latest)
    if latest.stage != CHECKING:  # it may have called WeChat
        return Taken("unknown", latest)
    if latest.attempt + 1 >= MAX_ATTEMPTS:
        return Taken("gave_up", latest)
    return Taken("claim", latest, latest.attempt + 1, abandon=latest)


Verdict = Literal["go", "wait", "exhausted"]


def quota_verdict(
    mine: Claim, others: Sequence[Claim], limit: int, now: datetime, timing: ClaimTiming
) -> Verdict:
    """Before calling: ``others`` are the reader's claims since the interaction."""
    used = ahead = 0
    for claim in others:
        if claim.id == mine.id:
            continue
        if claim.status in USED:
            used += 1
        elif claim.status == SENDING and claim.stale(now, timing):
            used += claim.stage != CHECKING  # may have sent; a stale ``checking`` never will
        elif claim.status == SENDING and (claim.stage != CHECKING or claim.order < mine.order):
            ahead += 1
    if used >= limit:
        return "exhausted"
    return "wait" if used + ahead >= limit else "go"


def may_call(mine: Claim, others: Sequence[Claim], limit: int) -> bool:
    """After marking ``mine`` calling: every other calling or final claim counts."""
    spent = sum(
        1
        for claim in others
        if claim.id != mine.id
        and (claim.status in USED or (claim.status == SENDING and claim.stage != CHECKING))
    )
    return spent < limit
