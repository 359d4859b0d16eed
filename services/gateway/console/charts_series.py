"""The charts page's series: analytics' days, channels and broadcasts as the columns uPlot
draws (``static/charts.js``), and the range's totals. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

Row = Mapping[str, Any]


def noon(day: str) -> int:
    """A day's x value: its noon UTC in Unix seconds (the same date in every browser zone
    from UTC-11 to UTC+11)."""
    return int(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC).timestamp())


def followers(days: Sequence[Row]) -> dict[str, list[int]]:
    """New, lost and net followers by day."""
    return {
        "x": [noon(d["date"]) for d in days],
        "new": [int(d["new"]) for d in days],
        "lost": [int(d["lost"]) for d in days],
        "net": [int(d["net"]) for d in days],
    }


def active(days: Sequence[Row]) -> dict[str, list[int]]:
    """Distinct readers with an interaction, by day."""
    return {
        "x": [noon(d["date"]) for d in days],
        "active": [int(d["active_readers"]) for d in days],
    }


def channels(rows: Sequence[Row]) -> dict[str, list[Any]]:
    """New and lost followers by channel, busiest first (an index on x, names beside)."""
    ordered = sorted(rows, key=lambda r: (-int(r["new"]), str(r["channel"])))
    return {
        "x": list(range(len(ordered))),
        "names": [str(r["channel"]) for r in ordered],
        "new": [int(r["new"]) for r in ordered],
        "lost": [int(r["lost"]) for r in ordered],
    }


def impacts(rows: Sequence[Row]) -> dict[str, list[Any]]:
    """Unfollows in the 24 h after each broadcast, and the account's baseline, in the
    order they were submitted (an index on x, the submission times beside)."""
    ordered = sorted(rows, key=lambda r: str(r["submitted_at"]))
    return {
        "x": list(range(len(ordered))),
        "names": [when(str(r["submitted_at"])) for r in ordered],
        "unfollows": [int(r["unfollows_24h"]) for r in ordered],
        "baseline": [_rounded(r["baseline_24h"]) for r in ordered],
    }


def when(stamp: str) -> str:
    """``2026-03-01T12:00:00Z`` as ``2026-03-01 12:00 UTC``."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def drawn(series: Mapping[str, Sequence[Any]], *keys: str) -> int:
    """How many non-zero values of ``keys`` a chart draws (0: the empty state instead)."""
    return sum(1 for key in keys for value in series[key] if value)


def totals(days: Sequence[Row]) -> dict[str, int]:
    """The range's new, lost and net followers, and its busiest day's active readers."""
    return {
        "new": sum(int(d["new"]) for d in days),
        "lost": sum(int(d["lost"]) for d in days),
        "net": sum(int(d["net"]) for d in days),
        "peak_active": max((int(d["active_readers"]) for d in days), default=0),
    }
