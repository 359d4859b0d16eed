"""WeChat's mass-send quotas, counted in the tenant's calendar. Pure.

A subscription account may broadcast to everyone or a tag once per local day, a service
account four times per local month. Sends to an openid list don't count toward those,
but on a service account each reader receives at most four of them per local month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from services.scheduler.schedule import iso_z


class Limit(NamedTuple):
    slots: int
    per: Literal["day", "month"]


LIMITS: Mapping[str, Limit] = {"subscription": Limit(1, "day"), "service": Limit(4, "month")}
READER_MONTHLY_LIMIT = 4
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    key: str  # "2026-12-04" for a day, "2026-12" for a month
    start: datetime  # aware UTC
    end: datetime  # aware UTC, exclusive


@dataclass(frozen=True, slots=True)
class QuotaView:
    account_type: str
    period: str
    used: int
    reserved: int
    limit: int
    next_allowed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "account_type": self.account_type,
            "period": self.period,
            "used": self.used,
            "reserved": self.reserved,
            "limit": self.limit,
            "next_allowed_at": iso_z(self.next_allowed_at),
        }


def limit_of(account_type: str) -> int:
    return _limit(account_type).slots


def period_of(account_type: str, instant: datetime, timezone: str) -> Period:
    """The quota period (local day or month) that ``instant`` falls in."""
    return _period(_limit(account_type).per, instant, ZoneInfo(timezone))


def reader_period(instant: datetime, timezone: str) -> Period:
    """The local month that counts toward each reader's list sends."""
    return _period("month", instant, ZoneInfo(timezone))


def next_allowed_at(
    account_type: str, timezone: str, *, taken: Mapping[str, int], at: datetime
) -> datetime:
    """``at`` itself if its period has a free slot, else the start of the first later period
    with one. ``taken`` maps period keys to the slots used or reserved in them."""
    limit = limit_of(account_type)
    period = period_of(account_type, at, timezone)
    while taken.get(period.key, 0) >= limit:  # ends: only finitely many keys are full
        at = period.end
        period = period_of(account_type, at, timezone)
    return at


def over_reader_limit(
    counts: Mapping[str, int], openids: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(allowed, over): split by how many list sends each reader already got this month."""
    allowed = [openid for openid in openids if counts.get(openid, 0) < READER_MONTHLY_LIMIT]
    over = [openid for openid in openids if counts.get(openid, 0) >= READER_MONTHLY_LIMIT]
    return allowed, over


def _limit(account_type: str) -> Limit:
    try:
        return LIMITS[account_type]
    except KeyError:
        raise ValueError(f"unknown account type {account_type!r}") from None


def _period(per: Literal["day", "month"], instant: datetime, zone: ZoneInfo) -> Period:
    local = instant.astimezone(zone).date()
    if per == "day":
        return Period(local.isoformat(), _midnight(local, zone), _midnight(local + DAY, zone))
    first = local.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first.isoformat()[:7], _midnight(first, zone), _midnight(following, zone))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day (where midnight is skipped, the one after the gap)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
