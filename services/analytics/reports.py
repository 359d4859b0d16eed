"""The figures the API shows, computed from the raw log (and, for days older than it
keeps, from the days finalized out of it) with the pure rules of ``figures.py``, through
what ``digests.py`` keeps of each day until its leaves change: digests for the last 30
days (activity, health, the send hour, the overview row), tallies for the days' figures
and the channels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from services.analytics.channels import channel_rows, readers_of
from services.analytics.digests import (
    DIGESTS_BYTES,
    TALLIES_BYTES,
    DayCache,
    DayDigest,
    DayTally,
    digest,
    tally,
)
from services.analytics.facts import Fact
from services.analytics.figures import (
    DayFigures,
    HealthPolicy,
    SendTime,
    by_hour,
    by_hour_of_week,
    day_figures,
    followers_known,
    health,
    send_time,
    with_cumulative,
)
from services.analytics.store import AnalyticsStore, merged

T = TypeVar("T")
SEND_TIME_DAYS = 28
ACTIVITY_DAYS = 30


@dataclass(frozen=True, slots=True)
class Window:
    """A tenant's recent days (the last ``ACTIVITY_DAYS`` local days, today included),
    as digests: the days with facts, by date."""

    today: date
    zone: ZoneInfo
    days: dict[str, DayDigest]
    unmerged: dict[str, int] = field(default_factory=dict)  # leaves of a fold, by day

    def since(self, days: int) -> list[DayDigest]:
        first = (self.today - timedelta(days=days - 1)).isoformat()
        return [d for day, d in self.days.items() if day >= first]

    def active(self, days: int) -> frozenset[str]:
        """The readers with an interaction in the last ``days`` days."""
        return frozenset[str]().union(*(d.readers for d in self.since(days)))

    def readers(self, days: int) -> int:
        return len(self.active(days))

    def interactions(self, first: int, last: int) -> int:
        """Interactions from ``first`` days ago to ``last`` days ago (0: today)."""
        lo = (self.today - timedelta(days=first)).isoformat()
        hi = (self.today - timedelta(days=last)).isoformat()
        return sum(d.interactions for day, d in self.days.items() if lo <= day <= hi)

    def last_interaction(self) -> datetime | None:
        return max(
            (d.last_interaction for d in self.days.values() if d.last_interaction), default=None
        )

    def net_after(self, day: str) -> int:
        """Follows less unfollows on the days after ``day``."""
        return sum(d.net for later, d in self.days.items() if later > day)


@dataclass(frozen=True, slots=True)
class Reports:
    store: AnalyticsStore
    raw_days: int
    policy: HealthPolicy
    now: Callable[[], datetime]
    # Shared by the API and the refresh.
    digests: DayCache[DayDigest] = field(
        default_factory=lambda: DayCache(DayDigest.size, DIGESTS_BYTES)
    )
    tallies: DayCache[DayTally] = field(
        default_factory=lambda: DayCache(DayTally.size, TALLIES_BYTES)
    )

    def today(self, timezone: str) -> date:
        return self.now().astimezone(ZoneInfo(timezone)).date()

    async def window(self, tenant_id: str, timezone: str) -> Window:
        """The digests of the last ``ACTIVITY_DAYS`` days."""
        today = self.today(timezone)
        first = (today - timedelta(days=ACTIVITY_DAYS - 1)).isoformat()
        leaves = await self.store.leaf_ids(tenant_id, first, today.isoformat())
        return await self._window(tenant_id, timezone, today, leaves)

    async def _window(
        self, tenant_id: str, timezone: str, today: date, leaves: dict[str, frozenset[str]]
    ) -> Window:
        """The window to ``today`` of the days of ``leaves`` (the raw log's leaf ids by
        day, listed over these days or more), with how many documents of each are not
        merged ones (a day too big for ``MERGE_LEAVES`` merged leaves is not merged
        again and again)."""
        ours = _within(leaves, today - timedelta(days=ACTIVITY_DAYS - 1), today)
        days = await self._each_day(tenant_id, ours, self.digests, digest)
        unmerged = {day: sum(not merged(i) for i in ids) for day, ids in ours.items()}
        return Window(today, ZoneInfo(timezone), dict(sorted(days.items())), unmerged)

    async def _each_day(
        self,
        tenant_id: str,
        leaves: dict[str, frozenset[str]],
        cache: DayCache[T],
        make: Callable[[str, list[Fact]], T],
    ) -> dict[str, T]:
        """``make`` of each day of ``leaves`` (its leaf ids in the raw log): from ``cache``
        when it was made of the same leaves, else made again from the day's facts
        (today's, mostly)."""
        made: dict[str, T] = {}
        for day, ids in leaves.items():
            if (kept := cache.get(tenant_id, day, ids)) is not None:
                made[day] = kept
        if stale := sorted(set(leaves) - set(made)):
            for day, (ids, facts) in (await self.store.days_of_facts(tenant_id, stale)).items():
                made[day] = make(day, facts)
                cache.put(tenant_id, day, ids, made[day])
        return made

    async def daily(
        self, tenant_id: str, timezone: str, first: date, last: date
    ) -> list[DayFigures]:
        """Each day from ``first`` to ``last``, with ``cumulative`` from the latest baseline
        (the days between the baseline and ``first`` are counted too)."""
        baseline = await self._baseline(tenant_id)
        start = first
        if baseline is not None and date.fromisoformat(baseline[0]) < first:
            start = date.fromisoformat(baseline[0]) + timedelta(days=1)
        days = with_cumulative(await self._days(tenant_id, timezone, start, last), baseline)
        return [d for d in days if d.date >= first.isoformat()]

    async def _days(
        self, tenant_id: str, timezone: str, first: date, last: date
    ) -> list[DayFigures]:
        raw_start = self.today(timezone) - timedelta(days=self.raw_days - 1)
        kept = {
            doc["_id"]: doc
            for doc in await self.store.finalized(tenant_id, first.isoformat(), last.isoformat())
        }
        tallies: dict[str, DayTally] = {}
        if last >= raw_start:  # the days after ``last`` too: their replies answer earlier days
            from_day = max(first, raw_start).isoformat()
            leaves = await self.store.leaf_ids(tenant_id, from_day, "9999-12-31")
            tallies = await self._each_day(tenant_id, leaves, self.tallies, tally)
        late = frozenset[str]().union(*(t.late for t in tallies.values()))
        days = []
        for n in range((last - first).days + 1):
            day = (first + timedelta(days=n)).isoformat()
            if day in kept:
                days.append(_from_doc(kept[day]))
            elif day in tallies:
                days.append(tallies[day].figures(late))
            else:
                days.append(day_figures(day, [], set()))
        return days

    async def _baseline(self, tenant_id: str) -> tuple[str, int] | None:
        doc = await self.store.state(tenant_id, "baseline")
        return None if doc is None else (str(doc["day"]), int(doc["value"]))

    async def channels(
        self, tenant_id: str, timezone: str, first: date, last: date
    ) -> list[dict[str, Any]]:
        """Per channel, over the raw log's days of the range (older days keep no readers)."""
        today = self.today(timezone)
        month = today - timedelta(days=ACTIVITY_DAYS - 1)
        end = last + min(timedelta(days=7), date.max - last)  # a week to leave, or stay
        leaves = await self.store.leaf_ids(  # one listing for the window and the range
            tenant_id, min(first, month).isoformat(), max(end, today).isoformat()
        )
        window = await self._window(tenant_id, timezone, today, leaves)
        tallies = await self._each_day(tenant_id, _within(leaves, first, end), self.tallies, tally)
        follows = [fact for day in sorted(tallies) for fact in tallies[day].follows]
        readers = readers_of(await self.store.readers(tenant_id))
        return channel_rows(
            follows, window.active(30), readers, first=first, last=last, today=window.today
        )

    async def activity(self, tenant_id: str, window: Window) -> dict[str, Any]:
        known = await self.followers(tenant_id, window)
        active_7d, active_30d = window.readers(7), window.readers(30)
        return {
            "followers_known": known,
            "active_7d": active_7d,
            "active_30d": active_30d,
            "active_rate_7d": _rate(active_7d, known),
            "active_rate_30d": _rate(active_30d, known),
        }

    async def followers(self, tenant_id: str, window: Window) -> int:
        baseline = await self._baseline(tenant_id)
        since = 0 if baseline is None else window.net_after(baseline[0])
        return followers_known(baseline, since, await self.store.following(tenant_id))

    def send_time(self, window: Window) -> tuple[SendTime, list[list[int]]]:
        grid = by_hour_of_week(cell for d in window.since(SEND_TIME_DAYS) for cell in d.by_hour)
        return send_time(by_hour(grid)), grid

    async def health(self, tenant_id: str, window: Window) -> dict[str, Any]:
        last = window.last_interaction()
        if last is None:
            last = await self._last_kept_interaction(tenant_id, window.today, window.zone)
        recent, before = window.interactions(6, 0), window.interactions(13, 7)
        status = health(
            last_interaction_at=last,
            interactions_7d=recent,
            interactions_prev_7d=before,
            now=self.now(),
            policy=self.policy,
        )
        return {
            "status": status,
            "last_interaction_at": None if last is None else _iso(last),
            "interactions_7d": recent,
            "interactions_prev_7d": before,
        }

    async def _last_kept_interaction(
        self, tenant_id: str, today: date, zone: ZoneInfo
    ) -> datetime | None:
        """The end of the newest finalized day with interactions, for quiet accounts."""
        docs = await self.store.finalized(tenant_id, "0000-00-00", today.isoformat())
        busy = sorted(d["_id"] for d in docs if d.get("interactions"))
        if not busy:
            return None
        end = datetime.combine(date.fromisoformat(busy[-1]), time(23, 59, 59), zone)
        return end.astimezone(UTC)

    async def summary(
        self, tenant_id: str, name: str, timezone: str, window: Window | None = None
    ) -> dict[str, Any]:
        """An overview row; from ``window`` when the caller has made it already (reading
        the raw log is most of the cost: once, not twice)."""
        if window is None:
            window = await self.window(tenant_id, timezone)
        activity = await self.activity(tenant_id, window)
        week = window.since(7)
        return {
            "id": tenant_id,
            "name": name,
            "followers_known": activity["followers_known"],
            "new_7d": sum(d.follows for d in week),
            "lost_7d": sum(d.unfollows for d in week),
            "active_rate_30d": activity["active_rate_30d"],
            "status": (await self.health(tenant_id, window))["status"],
        }


def _within(
    leaves: dict[str, frozenset[str]], first: date, last: date
) -> dict[str, frozenset[str]]:
    """The days of ``leaves`` from ``first`` to ``last``."""
    lo, hi = first.isoformat(), last.isoformat()
    return {day: ids for day, ids in leaves.items() if lo <= day <= hi}


def _rate(part: int, whole: int) -> float | None:
    return None if whole <= 0 else round(part / whole, 4)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _from_doc(doc: dict[str, Any]) -> DayFigures:
    fields = {k: v for k, v in doc.items() if k in DayFigures.__dataclass_fields__}
    return DayFigures(**fields)


def day_doc(figures: DayFigures) -> dict[str, Any]:
    """A finalized day, as ``analytics_days`` keeps it."""
    return {"_id": figures.date, **asdict(figures)}


def days_between(first: date, last: date) -> Sequence[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
