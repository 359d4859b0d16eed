"""Active hours of a reply rule: a daily window in the tenant's timezone.

JSON: ``{"start": "HH:MM", "end": "HH:MM", "days": [1..7]?}`` with ISO weekdays
(Monday is 1). ``start`` is inclusive, ``end`` exclusive. A window whose ``end`` is not
after its ``start`` crosses midnight (``22:00``-``02:00``); ``days`` name the day the
window *starts*, so Friday's ``22:00``-``02:00`` still holds at 01:00 on Saturday.
``start == end`` is 24 hours from ``start`` (``00:00``-``00:00``: whole days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
ALL_DAYS = frozenset(range(1, 8))


class InvalidWindow(ValueError):
    """Raised with the offending key (``start``, ``end``, ``days``) and a message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Window:
    start: time
    end: time
    days: frozenset[int] = ALL_DAYS

    def contains(self, local: datetime) -> bool:
        """Whether ``local`` (already in the tenant's timezone) falls inside the window."""
        now = local.time().replace(tzinfo=None)
        today = local.isoweekday()
        if self.start < self.end:
            return today in self.days and self.start <= now < self.end
        if now >= self.start:
            return today in self.days
        yesterday = (local - timedelta(days=1)).isoweekday()
        return now < self.end and yesterday in self.days


def _parse_time(data: dict[str, Any], key: str) -> time:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidWindow(key, 'required, a "HH:MM" string')
    found = _HHMM.fullmatch(value)
    if found is None:
        raise InvalidWindow(key, f'"{value}" is not a time "HH:MM" (00:00 to 23:59)')
    return time(int(found.group(1)), int(found.group(2)))


def parse_window(data: object) -> Window:
    """Validate the ``active_hours`` JSON object into a ``Window``."""
    if not isinstance(data, dict):
        raise InvalidWindow("", "must be an object")
    unknown = sorted(set(data) - {"start", "end", "days"})
    if unknown:
        raise InvalidWindow(unknown[0], "unknown field")
    start, end = _parse_time(data, "start"), _parse_time(data, "end")
    raw_days = data.get("days")
    if raw_days is None:
        return Window(start, end)
    if (
        not isinstance(raw_days, list)
        or not raw_days
        or not all(type(d) is int and 1 <= d <= 7 for d in raw_days)
    ):
        raise InvalidWindow("days", "a non-empty list of ISO weekdays 1 (Monday) to 7 (Sunday)")
    return Window(start, end, frozenset(raw_days))
