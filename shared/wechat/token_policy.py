"""When a stored access token is still good, when to refresh it, and whose lease is stale.

Pure: every function takes ``now``; nothing here reads a clock or a database.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Refresh ``margin_seconds`` before expiry, but never more than ``max_margin_fraction``
    of the token's lifetime (so short test lifetimes still leave time to use a token).
    A lease older than ``lease_seconds`` is taken to be abandoned; a caller waits at most
    ``wait_seconds`` for another process's refresh, polling every ``poll_seconds`` (jittered).
    """

    margin_seconds: float = 300.0
    max_margin_fraction: float = 0.5
    lease_seconds: float = 30.0
    wait_seconds: float = 10.0
    poll_seconds: float = 0.05

    def __post_init__(self) -> None:
        if not 0 <= self.max_margin_fraction < 1:
            raise ValueError("max_margin_fraction must be in [0, 1)")
        if min(self.margin_seconds, self.lease_seconds, self.wait_seconds) < 0:
            raise ValueError("margins, leases and waits cannot be negative")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What ``/cgi-bin/token`` answered."""

    access_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """The current token of one appid, as stored (opened) and cached."""

    token: str
    fetched_at: datetime
    expires_at: datetime
    generation: int


class Freshness(enum.Enum):
    FRESH = "fresh"  # use it
    DUE = "due"  # still valid, but refresh now (whoever holds the lease)
    EXPIRED = "expired"  # missing or past expiry: a new one is needed before any call


def new_record(issued: IssuedToken, *, requested_at: datetime, generation: int) -> TokenRecord:
    """Counts the lifetime from when the request left, so it is never overestimated."""
    if issued.expires_in <= 0 or not issued.access_token:
        raise ValueError("a token answer needs an access_token and a positive expires_in")
    return TokenRecord(
        token=issued.access_token,
        fetched_at=requested_at,
        expires_at=requested_at + timedelta(seconds=issued.expires_in),
        generation=generation,
    )


def refresh_at(record: TokenRecord, policy: TokenPolicy) -> datetime:
    lifetime = (record.expires_at - record.fetched_at).total_seconds()
    margin = min(policy.margin_seconds, policy.max_margin_fraction * lifetime)
    return record.expires_at - timedelta(seconds=margin)


def freshness(record: TokenRecord | None, now: datetime, policy: TokenPolicy) -> Freshness:
    if record is None or now >= record.expires_at:
        return Freshness.EXPIRED
    if now >= refresh_at(record, policy):
        return Freshness.DUE
    return Freshness.FRESH


@dataclass(frozen=True, slots=True)
class Need:
    """What a caller accepts. ``rejected`` is a token WeChat just refused: a record holding
    it is never good enough, however fresh it looks (that is how a refresh is forced)."""

    rejected: str | None = None

    def satisfied(
        self, record: TokenRecord | None, now: datetime, policy: TokenPolicy
    ) -> TypeGuard[TokenRecord]:
        """Good enough to use without trying to refresh."""
        return self._other(record) and freshness(record, now, policy) is Freshness.FRESH

    def tolerable(
        self, record: TokenRecord | None, now: datetime, policy: TokenPolicy
    ) -> TypeGuard[TokenRecord]:
        """Good enough to use while another process refreshes."""
        return self._other(record) and freshness(record, now, policy) is not Freshness.EXPIRED

    def _other(self, record: TokenRecord | None) -> TypeGuard[TokenRecord]:
        return record is not None and record.token != self.rejected


def next_generation(record: TokenRecord | None) -> int:
    return 1 if record is None else record.generation + 1


def lease_is_stale(taken_at: datetime, now: datetime, policy: TokenPolicy) -> bool:
    return now - taken_at > timedelta(seconds=policy.lease_seconds)


def poll_delay(policy: TokenPolicy, rand: Callable[[], float]) -> float:
    """A small wait between polls, jittered so that waiting processes do not move in step."""
    return policy.poll_seconds * (0.5 + rand())
