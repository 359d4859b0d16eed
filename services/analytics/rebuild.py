"""Recomputing a tenant's derived analytics from its raw log, from a day on
(``POST /api/tenants/{id}/rebuild {"from": "YYYY-MM-DD"}``, ``wxp analytics rebuild``).

The raw log (``analytics_events``) is the truth for the days it keeps: the tenant-local
today and the ``WXP_ANALYTICS_RAW_DAYS`` − 1 days before it. What analytics derives from
it can go stale (a fix to how facts are folded, a restored raw log, a hand edit), and a
rebuild from ``from`` sets it right again:

- **readers** (``analytics_readers``): each reader with a follow or unfollow fact on or
  after ``from`` gets the state of their latest such fact in the raw log, replacing what
  was stored (a later ``follow_at`` too): ``follow``, ``follow_at``, and the ``channel``
  of their latest subscribe up to it. An unfollowed reader whose subscribe is older than
  the raw log keeps the stored channel, since nothing else remembers it. Of facts in the
  same second (WeChat's times are whole seconds) the greater id wins, so a rebuild always
  picks the same one; the fold may have picked the other.
- **finalized days** (``analytics_days``) from ``from`` on are deleted: the raw log holds
  those days, and the figures are computed from it.
- **impacts** (``analytics_impacts``): each broadcast submitted on or after ``from``
  whose 24 hours have passed is measured again with the refresh's own code
  (:meth:`Refresh.measure`) and replaced. Nothing is published again: the scheduler
  already has its ``analytics.broadcast_impact``. A broadcast still inside its 24 hours
  is left to the refresh.
- **the overview row and the send-time advice** (``analytics_state``): recomputed by the
  refresh's per-tenant step (:meth:`Refresh.tenant`), which publishes
  ``analytics.send_time`` only when the hour changes, as it always does.

``from`` must be a tenant-local day no later than today that the raw log still keeps
(from today − raw days + 1): older days are no longer in the log, so they cannot be
recomputed. A refused request changes nothing.

Every step writes only derived state and can be repeated: running a rebuild again, or
two at once, leaves the same state. It is not atomic (FerretDB has no transactions).
A fold that moves a reader's newer follow event while a rebuild replaces that reader
may be overwritten by the older state. A full refresh that finalizes and purges
``from`` at the moment the day turns may lose that day's finalized figures. In either
case, run the rebuild again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.analytics.facts import BROADCAST, FOLLOW, UNFOLLOW, Fact
from services.analytics.handlers import IMPACT_AFTER
from services.analytics.refresh import Refresh
from services.analytics.reports import Reports
from services.analytics.store import AnalyticsStore
from shared.contracts.tenancy import DEFAULT_TIMEZONE

logger = logging.getLogger(__name__)
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
EVERY_DAY = ("0000-01-01", "9999-12-31")  # the whole raw log, whatever it still holds


class InvalidFrom(ValueError):
    """``from`` is not a day a rebuild can start at; the message says why."""


def raw_start(today: date, raw_days: int) -> date:
    """The oldest day the raw log keeps."""
    return today - timedelta(days=raw_days - 1)


def first_day(raw: object, *, today: date, raw_days: int) -> date:
    """``raw`` (the request's ``from``) as the first day to rebuild, or :class:`InvalidFrom`."""
    if not isinstance(raw, str) or not DATE.fullmatch(raw):
        raise InvalidFrom("from: a date, YYYY-MM-DD")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidFrom("from: not a calendar date") from None
    if day > today:
        raise InvalidFrom(f"from: after today ({today.isoformat()} in the account's timezone)")
    start = raw_start(today, raw_days)
    if day < start:
        raise InvalidFrom(
            f"from: the raw log starts at {start.isoformat()} (it keeps {raw_days} days); "
            "older days cannot be rebuilt"
        )
    return day


@dataclass(frozen=True, slots=True)
class ReaderState:
    """A reader's follow state as their latest follow fact sets it; ``channel_known`` is
    False for an unfollow whose subscribe is not in the facts."""

    openid: str
    follow: str  # FOLLOW or UNFOLLOW
    follow_at: datetime
    channel: str | None
    channel_known: bool

    def to_doc(self, stored_channel: str | None = None) -> dict[str, Any]:
        """As ``analytics_readers`` keeps it; ``stored_channel`` stands in for an unknown one."""
        channel = self.channel if self.channel_known else stored_channel
        return {
            "_id": self.openid,
            "follow": self.follow,
            "follow_at": self.follow_at,
            "channel": channel,
        }


def reader_states(facts: Iterable[Fact], *, since: str) -> dict[str, ReaderState]:
    """The state of each reader with a follow or unfollow among ``facts`` on or after local
    day ``since``: their latest one (by time, then id), with the channel of their latest
    subscribe up to it. Other facts are left out."""
    ordered = sorted((f for f in facts if f.kind in (FOLLOW, UNFOLLOW)), key=lambda f: (f.at, f.id))
    chosen = {f.openid for f in ordered if f.day >= since}
    latest: dict[str, Fact] = {}
    channel: dict[str, str | None] = {}
    for fact in ordered:
        if fact.openid not in chosen:
            continue
        latest[fact.openid] = fact
        if fact.kind == FOLLOW:
            channel[fact.openid] = fact.key
    return {
        openid: ReaderState(
            openid=openid,
            follow=fact.kind,
            follow_at=fact.at,
            channel=channel.get(openid),
            channel_known=openid in channel,
        )
        for openid, fact in latest.items()
    }


@dataclass(frozen=True, slots=True)
class Submitted:
    """A broadcast run's submission, as its fact has it."""

    broadcast_id: str
    run_id: str
    at: datetime


def due_broadcasts(facts: Iterable[Fact], *, since: str, now: datetime) -> list[Submitted]:
    """The broadcasts submitted on or after local day ``since`` whose 24 hours have passed
    by ``now``, one per broadcast run (its latest submission), oldest first."""
    runs: dict[tuple[str, str], Submitted] = {}
    for fact in facts:
        if fact.kind != BROADCAST or fact.day < since or fact.at + IMPACT_AFTER > now:
            continue
        if fact.broadcast_id is None or fact.run_id is None:
            continue
        key = (fact.broadcast_id, fact.run_id)
        if key not in runs or runs[key].at < fact.at:
            runs[key] = Submitted(fact.broadcast_id, fact.run_id, fact.at)
    return sorted(runs.values(), key=lambda s: (s.at, s.broadcast_id, s.run_id))


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What a rebuild recomputed: readers replaced, finalized days dropped, impacts."""

    tenant_id: str
    first: date
    readers: int
    days_dropped: int
    impacts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "from": self.first.isoformat(),
            "readers": self.readers,
            "days_dropped": self.days_dropped,
            "impacts": self.impacts,
        }


@dataclass(frozen=True, slots=True)
class Rebuild:
    store: AnalyticsStore
    reports: Reports
    refresh: Refresh

    def first_day(self, raw: object, timezone: str) -> date:
        """``raw`` checked against the tenant's today and the raw log's days."""
        today = self.reports.today(timezone)
        return first_day(raw, today=today, raw_days=self.reports.raw_days)

    async def run(self, tenant_id: str, first: date) -> Rebuilt:
        """Rebuilds the tenant's derived state from ``first`` on (checked by
        :meth:`first_day`); :class:`LookupError` when there is no such tenant."""
        tenant = await self.store.tenant(tenant_id)
        if tenant is None:
            raise LookupError(tenant_id)
        since = first.isoformat()
        readers = await self._readers(tenant_id, since)
        days = await self.store.drop_days(tenant_id, since)
        impacts = await self._impacts(tenant_id, since)
        timezone = str(tenant.get("timezone") or DEFAULT_TIMEZONE)
        await self.refresh.tenant(tenant_id, str(tenant.get("name", "")), timezone)
        logger.info(
            "tenant %s: rebuilt from %s: %s readers, %s finalized days dropped, %s impacts",
            tenant_id,
            since,
            readers,
            days,
            impacts,
        )
        return Rebuilt(tenant_id, first, readers, days, impacts)

    async def _readers(self, tenant_id: str, since: str) -> int:
        first, last = EVERY_DAY  # earlier subscribes give the unfollowed their channel
        facts = await self.store.facts(
            tenant_id, first_day=first, last_day=last, kinds=(FOLLOW, UNFOLLOW)
        )
        states = reader_states(facts, since=since)
        unknown = [s.openid for s in states.values() if not s.channel_known]
        stored = await self.store.reader_channels(tenant_id, unknown)
        docs = [state.to_doc(stored.get(state.openid)) for state in states.values()]
        await self.store.replace_readers(tenant_id, docs)
        return len(docs)

    async def _impacts(self, tenant_id: str, since: str) -> int:
        facts = await self.store.facts(
            tenant_id, first_day=since, last_day=EVERY_DAY[1], kinds=(BROADCAST,)
        )
        due = due_broadcasts(facts, since=since, now=self.reports.now())
        for run in due:
            measured = await self.refresh.measure(tenant_id, run.broadcast_id, run.run_id, run.at)
            await self.store.save_impact(tenant_id, measured)
        return len(due)
