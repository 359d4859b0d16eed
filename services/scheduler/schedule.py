"""When a broadcast falls due: the three schedules (``at`` an instant, ``cron`` in the
tenant's timezone, ``best_on`` a local day at the recommended hour), their JSON, and the
run ids derived from due instants. Pure: the clock is always passed in.

Cron times that a DST change skips run at the first real minute after them (02:30 on a
spring-forward night runs at 03:00); times that repeat run once, at the first of the two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from cronsim import CronSim

DEFAULT_HOUR = 20
RUN_ID = re.compile(r"r([0-9]{8}T[0-9]{6})Z")


@dataclass(frozen=True, slots=True)
class At:
    instant: datetime  # aware, UTC, whole seconds


@dataclass(frozen=True, slots=True)
class Cron:
    expression: str  # 5 fields, evaluated in the tenant's timezone
    until: date | None = None  # a tenant-local date, inclusive


@dataclass(frozen=True, slots=True)
class BestOn:
    day: date  # a tenant-local date


Schedule: TypeAlias = At | Cron | BestOn


def iso_z(instant: datetime) -> str:
    """``2026-12-04T12:00:00Z``: an aware instant in UTC, to the second."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_to_json(schedule: Schedule) -> dict[str, Any]:
    if isinstance(schedule, At):
        return {"at": iso_z(schedule.instant)}
    if isinstance(schedule, BestOn):
        return {"best_on": schedule.day.isoformat()}
    if schedule.until is None:
        return {"cron": schedule.expression}
    return {"cron": schedule.expression, "until": schedule.until.isoformat()}


def schedule_from_json(data: Mapping[str, Any]) -> Schedule:
    """Trusts stored (already validated) JSON; a naive stored ``at`` is read as UTC."""
    if "at" in data:
        instant = datetime.fromisoformat(data["at"])
        return At((instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(UTC))
    if "best_on" in data:
        return BestOn(date.fromisoformat(data["best_on"]))
    until = data.get("until")
    return Cron(data["cron"], None if until is None else date.fromisoformat(until))


def first_due(
    schedule: Schedule, *, timezone: str, now: datetime, advice_hour: int | None = None
) -> datetime | None:
    """The first due instant (aware UTC) strictly after ``now``, or None if there is none.

    ``advice_hour`` (0-23, from analytics) only matters for ``best_on``; without a usable
    one the day's broadcast goes out at ``DEFAULT_HOUR`` local time.
    """
    if isinstance(schedule, At):
        return schedule.instant if schedule.instant > now else None
    zone = ZoneInfo(timezone)
    if isinstance(schedule, BestOn):
        due = datetime.combine(schedule.day, time(_hour(advice_hour)), tzinfo=zone)
        due = due.astimezone(UTC)
        return due if due > now else None
    return _cron_after(schedule, zone, now)


def next_due(schedule: Schedule, *, timezone: str, after: datetime) -> datetime | None:
    """A cron's next occurrence strictly after ``after`` (None past ``until``); the
    one-shot schedules (``at``, ``best_on``) have no next run."""
    if isinstance(schedule, Cron):
        return _cron_after(schedule, ZoneInfo(timezone), after)
    return None


def _hour(advice: object) -> int:
    """The advised hour when it is one (analytics' notes are not validated here)."""
    if isinstance(advice, int) and not isinstance(advice, bool) and 0 <= advice < 24:
        return advice
    return DEFAULT_HOUR


def _cron_after(cron: Cron, zone: ZoneInfo, after: datetime) -> datetime | None:
    # cronsim walks wall-clock time for fixed hour/minute jobs, so in a repeated hour it can
    # answer a time before `after`: skip those. It stops (StopIteration) after 50 empty years.
    for found in CronSim(cron.expression, after.astimezone(zone)):
        if found > after:
            break
    else:
        return None
    if cron.until is not None and found.date() > cron.until:
        return None
    return found.astimezone(UTC)


def run_id_for(due: datetime) -> str:
    """``r20261204T120000Z``: the due instant in UTC, to the second; URL-safe."""
    if due.tzinfo is None:
        raise ValueError("a run's due instant must be timezone-aware")
    return "r" + due.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def due_from_run_id(run_id: str) -> datetime:
    """The due instant a run id names (the inverse of :func:`run_id_for`)."""
    found = RUN_ID.fullmatch(run_id)
    if found is None:
        raise ValueError(f"not a run id: {run_id!r}")
    return datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
