"""The figures analytics reports, computed from facts. Pure: the clock is passed in.

- A day's figures (:func:`day_figures`), then followers at the end of each day from a
  baseline (:func:`with_cumulative`, :func:`followers_known`).
- The send-time recommendation (:func:`send_time`) from interactions by local hour.
- Account health (:func:`health`) from interactions in the last two weeks.
- A broadcast's impact (:func:`impact`): unsubscribes in the 24 h after it, against the
  mean of the previous 14 days that saw no broadcast.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.analytics.facts import FOLLOW, INTERACTION, REPLY, UNFOLLOW, Fact
from shared.contracts.broadcast_events import Basis

DAY = timedelta(days=1)
BASELINE_DAYS = 14
HEALTH_ORDER = {"dormant": 0, "declining": 1, "no_data": 2, "active": 3}  # worst first


@dataclass(frozen=True, slots=True)
class DayFigures:
    date: str  # tenant-local "YYYY-MM-DD"
    new: int
    lost: int
    net: int
    cumulative: int | None
    active_readers: int
    messages: int
    messages_by_type: dict[str, int]
    menu_clicks: dict[str, int]
    rule_replies: int
    cs_replies: int
    unanswered: int
    interactions: int

    def to_json(self) -> dict[str, Any]:
        """The API's day: every field but ``interactions``."""
        return {
            "date": self.date,
            "new": self.new,
            "lost": self.lost,
            "net": self.net,
            "cumulative": self.cumulative,
            "active_readers": self.active_readers,
            "messages": self.messages,
            "messages_by_type": dict(self.messages_by_type),
            "menu_clicks": dict(self.menu_clicks),
            "rule_replies": self.rule_replies,
            "cs_replies": self.cs_replies,
            "unanswered": self.unanswered,
        }


def day_figures(day: str, facts: Iterable[Fact], answered: Collection[str]) -> DayFigures:
    """The figures of local ``day`` from its facts (facts of other days are left out).
    ``answered`` holds the ids of the events some reply answered, whatever its day.
    A click without a key (WeChat always sends one) counts in no ``menu_clicks`` entry."""
    kinds: Counter[str] = Counter()
    vias: Counter[str | None] = Counter()
    by_type: Counter[str] = Counter()
    clicks: Counter[str] = Counter()
    readers: set[str] = set()
    unanswered = 0
    for fact in facts:
        if fact.day != day:
            continue
        kinds[fact.kind] += 1
        if fact.kind == INTERACTION:
            readers.add(fact.openid)
        elif fact.kind == REPLY:
            vias[fact.via] += 1
        family, _, name = fact.type.partition(".")
        if family == "msg":
            by_type[name] += 1
            unanswered += fact.id not in answered
        elif fact.type == "event.click" and fact.key is not None:
            clicks[fact.key] += 1
    return DayFigures(
        date=day,
        new=kinds[FOLLOW],
        lost=kinds[UNFOLLOW],
        net=kinds[FOLLOW] - kinds[UNFOLLOW],
        cumulative=None,
        active_readers=len(readers),
        messages=by_type.total(),
        messages_by_type=dict(sorted(by_type.items())),
        menu_clicks=dict(sorted(clicks.items())),
        rule_replies=vias["passive"],
        cs_replies=vias["customer_service"],
        unanswered=unanswered,
        interactions=kinds[INTERACTION],
    )


def with_cumulative(
    days: Sequence[DayFigures], baseline: tuple[str, int] | None
) -> list[DayFigures]:
    """``days`` (same order) with followers at the end of each day: for a baseline
    ``(B, followers at the end of B)``, days from B on get the baseline plus the net of
    the days in ``days`` after B up to them (a day not listed counts as net 0, so list
    every day with facts after B, or move the baseline forward with
    :func:`followers_known`). Days before B, or all days without a baseline: None."""
    if baseline is None:
        return [replace(day, cumulative=None) for day in days]
    start, followers = baseline
    running, cumulative = followers, {}
    for day in sorted(days, key=lambda d: d.date):
        if day.date > start:
            running += day.net
        cumulative[day.date] = running if day.date >= start else None
    return [replace(day, cumulative=cumulative[day.date]) for day in days]


def followers_known(
    baseline: tuple[str, int] | None, net_since_baseline: int, following_readers: int
) -> int:
    """Followers now: the baseline plus the net since; without a baseline, the readers
    whose latest follow event is a subscribe."""
    if baseline is None:
        return following_readers
    return baseline[1] + net_since_baseline


@dataclass(frozen=True, slots=True)
class SendTime:
    hour: int  # tenant-local, 0-23
    basis: Basis  # "interactions" or "default"
    sample: int  # interactions counted

    def to_json(self) -> dict[str, Any]:
        return {"hour": self.hour, "basis": self.basis, "sample": self.sample}


def send_time(by_hour: Sequence[int], min_sample: int = 50, default_hour: int = 20) -> SendTime:
    """The busiest local hour of ``by_hour`` (24 interaction counts over 28 days; of tied
    hours, the earliest) once they add up to ``min_sample``; else ``default_hour``."""
    if len(by_hour) != 24:
        raise ValueError(f"by_hour must hold 24 counts, not {len(by_hour)}")
    sample = sum(by_hour)
    if sample < min_sample:
        return SendTime(default_hour, "default", sample)
    return SendTime(max(range(24), key=lambda hour: by_hour[hour]), "interactions", sample)


def by_hour_of_week(cells: Iterable[tuple[int, int, int]]) -> list[list[int]]:
    """Interactions by local weekday (rows, Monday first) and hour (columns), from
    ``(weekday, hour, interactions)`` cells (``DayDigest.by_hour``), added up."""
    grid = [[0] * 24 for _ in range(7)]
    for weekday, hour, interactions in cells:
        grid[weekday][hour] += interactions
    return grid


def by_hour(grid: Sequence[Sequence[int]]) -> list[int]:
    """Interactions by local hour, whatever the weekday: what :func:`send_time` takes."""
    return [sum(column) for column in zip(*grid, strict=True)]


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    dormant_days: int = 7
    declining_ratio: float = 0.5


def health(
    *,
    last_interaction_at: datetime | None,
    interactions_7d: int,
    interactions_prev_7d: int,
    now: datetime,
    policy: HealthPolicy = HealthPolicy(),  # frozen: one shared default is safe
) -> str:
    """``no_data`` (no interaction ever), ``dormant`` (none in the last ``dormant_days``,
    i.e. the last one before ``now - dormant_days``), ``declining`` (fewer in the last 7
    days than ``declining_ratio`` × the 7 before) or ``active``."""
    if last_interaction_at is None and interactions_7d == 0 and interactions_prev_7d == 0:
        return "no_data"
    if last_interaction_at is None or last_interaction_at < now - policy.dormant_days * DAY:
        return "dormant"
    if interactions_prev_7d > 0 and interactions_7d < policy.declining_ratio * interactions_prev_7d:
        return "declining"
    return "active"


@dataclass(frozen=True, slots=True)
class Impact:
    unsubscribes: int
    baseline: float | None
    lift: float | None


def impact(
    *, submitted_at: datetime, unfollows: Sequence[datetime], broadcasts: Sequence[datetime]
) -> Impact:
    """Unsubscribes in [submitted_at, +24 h), against the mean count of the 24 h windows
    [submitted_at - k days, submitted_at - (k-1) days), k = 1..14, that hold none of
    ``broadcasts``. The baseline is None when every window held one; the lift is None
    when the baseline is None or 0."""

    def count(start: datetime, times: Sequence[datetime]) -> int:
        return sum(start <= at < start + DAY for at in times)

    unsubscribes = count(submitted_at, unfollows)
    starts = [submitted_at - k * DAY for k in range(1, BASELINE_DAYS + 1)]
    quiet = [count(start, unfollows) for start in starts if count(start, broadcasts) == 0]
    baseline = sum(quiet) / len(quiet) if quiet else None
    lift = unsubscribes / baseline if baseline else None
    return Impact(unsubscribes, baseline, lift)


def channel_of(latest_subscribe_scene: str | None) -> str:
    """A subscriber's channel: the scene of their latest subscribe, else ``other``."""
    return latest_subscribe_scene or "other"
