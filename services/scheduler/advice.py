"""Warnings an operator sees when scheduling or listing broadcasts: too many in a week,
readers lost after the previous one, a send time when readers are asleep. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)
READING_HOURS = (time(7), time(23))  # local; from 07:00 up to (not including) 23:00
MAX_LIFT = 2.0  # unfollows within 24 h, as a multiple of the account's usual rate


@dataclass(frozen=True, slots=True)
class BroadcastWarning:
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def warnings_for(
    *,
    due: datetime | None,
    timezone: str,
    nearby: Sequence[datetime],
    max_per_week: int,
    last_lift: float | None,
) -> list[BroadcastWarning]:
    """The warnings for a broadcast due at ``due`` (None: it has no run ahead).

    ``nearby`` are the due or submitted instants of the tenant's other runs; those in the
    7 days ending at ``due`` count with this one toward ``max_per_week``. ``last_lift`` is
    analytics' unfollow lift after the previous broadcast, when it has one.
    """
    found = [_lost_readers(last_lift)]
    if due is not None:
        found = [_busy_week(due, nearby, max_per_week), *found, _outside_hours(due, timezone)]
    return [warning for warning in found if warning is not None]


def _busy_week(
    due: datetime, nearby: Sequence[datetime], max_per_week: int
) -> BroadcastWarning | None:
    count = 1 + sum(1 for other in nearby if due - WEEK < other <= due)
    if count <= max_per_week:
        return None
    return BroadcastWarning(
        "busy_week",
        f"This makes {count} broadcasts in 7 days (more than {max_per_week}); "
        "frequent broadcasts make readers unfollow.",
    )


def _lost_readers(lift: float | None) -> BroadcastWarning | None:
    if lift is None or lift <= MAX_LIFT:
        return None
    return BroadcastWarning(
        "previous_lost_readers",
        f"The previous broadcast lost readers {lift:.1f} times faster than usual within 24 hours.",
    )


def _outside_hours(due: datetime, timezone: str) -> BroadcastWarning | None:
    local = due.astimezone(ZoneInfo(timezone)).time()
    if READING_HOURS[0] <= local < READING_HOURS[1]:
        return None
    return BroadcastWarning(
        "outside_reading_hours",
        f"It goes out at {local:%H:%M} local time, outside reading hours (07:00 to 23:00).",
    )
