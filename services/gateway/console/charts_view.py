"""The charts page's view of analytics' answers, pure: the range asked for and its days,
the send-time heat map, figures as text, and the template's context."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.gateway.console.charts_series import (
    Row,
    active,
    channels,
    drawn,
    followers,
    impacts,
    totals,
    when,
)
from services.gateway.console.numbers import percent

RANGES = (7, 30, 90)
DEFAULT_RANGE = 30
HEAT_LEVELS = 10  # CSS classes heat-0 (none) to heat-9 (the busiest hour)


def range_of(raw: str | None) -> int:
    """The ``?days=`` asked for, when it is one of :data:`RANGES`; else the default."""
    return int(raw) if raw in {str(n) for n in RANGES} else DEFAULT_RANGE


def span(now: datetime, timezone: str, days: int) -> tuple[date, date]:
    """The last ``days`` tenant-local days, today included."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return today - timedelta(days=days - 1), today


def ratio(value: float | None) -> str:
    """A baseline or lift with two decimals; ``—`` when there is none."""
    return "—" if value is None else f"{value:.2f}"


@dataclass(frozen=True, slots=True)
class Cell:
    hour: int
    count: int
    level: int  # 0 (nothing) to HEAT_LEVELS - 1 (the busiest cell)
    best: bool  # the recommended hour


def heat_level(count: int, top: int) -> int:
    """0 for no interactions; else 1 to 9, in proportion to the busiest cell (rounded up)."""
    if count <= 0 or top <= 0:
        return 0
    return min(HEAT_LEVELS - 1, math.ceil(count / top * (HEAT_LEVELS - 1)))


def heat_map(grid: Sequence[Sequence[int]], best_hour: int) -> list[list[Cell]]:
    """The 7×24 interaction grid (Monday first) as cells with their heat level."""
    top = max((c for row in grid for c in row), default=0)
    return [
        [Cell(h, int(c), heat_level(int(c), top), h == best_hour) for h, c in enumerate(row)]
        for row in grid
    ]


@dataclass(frozen=True, slots=True)
class Answers:
    """What analytics answered about one account."""

    days: list[Row]
    activity: Row
    channels: list[Row]
    broadcasts: list[Row]
    send_time: Row
    health: Row


def page_context(answers: Answers, chosen: int) -> dict[str, Any]:
    """The template's context: the series (as the page's JSON data block), the tables and
    the summaries."""
    series = {
        "followers": followers(answers.days),
        "active": active(answers.days),
        "channels": channels(answers.channels),
        "broadcasts": impacts(answers.broadcasts),
    }
    points = {
        "followers": drawn(series["followers"], "new", "lost"),
        "active": drawn(series["active"], "active"),
        "channels": drawn(series["channels"], "new", "lost"),
        "broadcasts": len(series["broadcasts"]["x"]),
    }
    send = answers.send_time
    return {
        "series": series,
        "points": points,
        "ranges": RANGES,
        "chosen": chosen,
        "answers": answers,
        "totals": totals(answers.days),
        "heat": heat_map(send["by_hour_of_week"], int(send["hour"])),
        "heat_total": sum(sum(row) for row in send["by_hour_of_week"]),
        "percent": percent,
        "ratio": ratio,
        "when": when,
    }
