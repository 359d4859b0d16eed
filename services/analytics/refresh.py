"""Analytics' background work, every ``refresh_seconds``:

- (its own loop) facts from the settled inboxes into the tenants' raw logs;
- each tenant touched since the last round (every tenant every ``full_seconds``, so a
  quiet account turns dormant): its overview row, and its send hour, published as
  ``analytics.send_time`` when it changed;
- each broadcast submitted 24 hours ago: its unfollows against the account's baseline,
  published as ``analytics.broadcast_impact`` and kept for ``stats/broadcasts``;
- each touched tenant's days of more than ``MERGE_LEAVES`` leaves merged (a busy
  account's raw log gets a leaf nearly every fold);
- on the full round, days about to leave the raw log are finalized, then purged.

Every step is idempotent (deterministic envelope ids; finalized days are unique inserts),
so replicas may overlap and a crash repeats work rather than losing it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.analytics.facts import BROADCAST, UNFOLLOW
from services.analytics.figures import day_figures, impact
from services.analytics.handlers import Intake
from services.analytics.metrics import AnalyticsMetrics
from services.analytics.reports import Reports, day_doc
from services.analytics.store import AnalyticsStore
from shared.contracts.broadcast_events import BroadcastImpact, SendTimeAdvice
from shared.contracts.envelope import announce
from shared.contracts.tenancy import DEFAULT_TIMEZONE
from shared.platform.bus import BrokerUnavailable
from shared.platform.publisher import EventPublisher
from shared.platform.supervision import idle, paced, stopping

logger = logging.getLogger(__name__)
BASELINE_DAYS = 14
# Seconds between folds: figures lag the bus by about 10 s more than this. Each fold costs
# every active tenant an insert and an update whatever their size, the database's main
# cost at a thousand tenants (make bench: 2 s between folds cost FerretDB more than the
# facts themselves).
FOLD_PAUSE = 5.0
# A periodic round's tenants start spread over at least this many seconds (twenty tenants
# half a second apart; a thousand, whose work takes longer than that, back to back): all
# at once, twenty tenants' 30 days of raw log held analytics at half a core for 1.5 s,
# and the webhooks sharing the machine slowed by a third meanwhile (README, Benchmarks).
ROUND_SPREAD = 10.0
# A day's leaves in the raw log, not counting merged ones, past which the refresh merges
# them (a busy account's day gets one nearly every fold; on FerretDB every query reads
# every document): about five minutes of folds for an account of 10,000 texts a day.
MERGE_LEAVES = 48


@dataclass
class Refresh:
    store: AnalyticsStore
    reports: Reports
    intake: Intake
    events: EventPublisher
    metrics: AnalyticsMetrics
    refresh_seconds: float
    full_seconds: float

    async def run(self) -> None:
        """Background loop."""
        last_full = float("-inf")
        while True:
            full = time.monotonic() - last_full >= self.full_seconds
            await self.round(full=full, spread=ROUND_SPREAD)
            if full:
                last_full = time.monotonic()
            await idle(self.refresh_seconds)

    async def fold(self) -> None:
        """Background loop: the inbox into the tenants' raw logs, as fast as it fills;
        counts the facts of each leaf newly written (a fold repeated counts nothing)."""
        while True:
            for kind, kept in (await self.store.fold()).items():
                self.metrics.events.labels(kind).inc(kept)
            await idle(FOLD_PAUSE)

    async def round(self, *, full: bool, spread: float = 0.0) -> None:
        """Each tenant touched since the last round (every tenant when ``full``), the
        ``n``-th started no sooner than ``n`` × ``spread`` ÷ their number seconds in."""
        touched, self.intake.touched = self.intake.touched, set()
        tenants = {str(t["_id"]): t for t in await self.store.tenants()}
        chosen = tenants if full else {k: v for k, v in tenants.items() if k in touched}
        statuses: Counter[str] = Counter()
        waiting: list[str] = []  # their advice waits for the broker
        async for tenant_id, doc in paced(list(chosen.items()), over=spread):
            timezone = str(doc.get("timezone") or DEFAULT_TIMEZONE)
            try:
                row, announced = await self.tenant(tenant_id, str(doc.get("name", "")), timezone)
                statuses[row["status"]] += 1
                if not announced:
                    waiting.append(tenant_id)
                if full:
                    await self.finalize(tenant_id, timezone)
            except Exception:
                if stopping():
                    raise  # pymongo may report a cancelled wait as a connection failure
                self.intake.touched.add(tenant_id)  # next round
                logger.exception("tenant %s: refresh failed; next round", tenant_id)
        if waiting:  # the broker is down, or not linked yet at start-up: one line, not one each
            logger.warning(
                "send-time advice waits for the broker, %d tenant(s) (%s...): next round",
                len(waiting),
                ", ".join(waiting[:3]),
            )
        if full:
            for status in ("active", "declining", "dormant", "no_data"):
                self.metrics.tenants.labels(status).set(statuses.get(status, 0))
        await self.impacts()

    async def tenant(self, tenant_id: str, name: str, timezone: str) -> tuple[dict[str, Any], bool]:
        """The tenant's summary row, stored, and whether the send-time advice it calls for
        (if any) went out: False when the broker could not take it; the advice is then not
        marked sent and the tenant is left for the next round, which tries again."""
        window = await self.reports.window(tenant_id, timezone)
        if crowded := [day for day, n in window.unmerged.items() if n > MERGE_LEAVES]:
            await self.store.merge_leaves(tenant_id, crowded)
        row = await self.reports.summary(tenant_id, name, timezone, window)
        await self.store.set_state(tenant_id, "summary", row)
        advice, _ = self.reports.send_time(window)
        before = await self.store.state(tenant_id, "send_time")
        if before is None or (before["hour"], before["basis"]) != (advice.hour, advice.basis):
            payload = SendTimeAdvice(advice.hour, advice.basis, advice.sample)
            stamp = f"{tenant_id}:send_time:{advice.hour}:{advice.basis}:{window.today}"
            try:
                await self._publish(tenant_id, payload, stamp)
            except BrokerUnavailable:
                self.intake.touched.add(tenant_id)  # the next round tries again
                return row, False
            await self.store.set_state(tenant_id, "send_time", advice.to_json())
        return row, True

    async def impacts(self) -> None:
        """Each broadcast impact that is due, measured, published and kept. An offboarded
        tenant's is dropped; one that fails (the broker refused it, the database blipped)
        is logged and left due for the next round, and the others go on."""
        for due in await self.store.due_impacts(self.reports.now()):
            tenant_id = str(due["tenant_id"])
            try:
                if await self.store.tenant(tenant_id) is None:
                    await self.store.impact_done(str(due["_id"]))
                    continue
                await self.impact(tenant_id, due)
            except BrokerUnavailable as exc:  # no traceback: nothing is wrong here
                logger.warning(
                    "tenant %s: impact %s waits for the broker (%s): next round",
                    tenant_id,
                    due["_id"],
                    exc,
                )
            except Exception:
                if stopping():
                    raise
                logger.exception("tenant %s: impact %s failed; next round", tenant_id, due["_id"])

    async def impact(self, tenant_id: str, due: dict[str, Any]) -> None:
        measured = await self.measure(
            tenant_id, str(due["broadcast_id"]), str(due["run_id"]), due["submitted_at"]
        )
        payload = BroadcastImpact(
            measured["broadcast_id"],
            measured["run_id"],
            measured["unfollows_24h"],
            measured["baseline_24h"],
            measured["lift"],
        )
        await self._publish(tenant_id, payload, f"{due['_id']}:impact")
        await self.store.save_impact(tenant_id, measured)
        await self.store.impact_done(str(due["_id"]))

    async def measure(
        self, tenant_id: str, broadcast_id: str, run_id: str, submitted: datetime
    ) -> dict[str, Any]:
        """A broadcast's impact from the raw log, as ``analytics_impacts`` keeps it
        (``_id``: broadcast/run). Saves and publishes nothing: the callers do."""
        first = (submitted - timedelta(days=BASELINE_DAYS + 1)).date().isoformat()
        last = (submitted + timedelta(days=2)).date().isoformat()
        facts = await self.store.facts(
            tenant_id, first_day=first, last_day=last, kinds=(UNFOLLOW, BROADCAST)
        )
        measured = impact(
            submitted_at=submitted,
            unfollows=[f.at for f in facts if f.kind == UNFOLLOW],
            broadcasts=[f.at for f in facts if f.kind == BROADCAST and f.at != submitted],
        )
        return {
            "_id": f"{broadcast_id}/{run_id}",
            "broadcast_id": broadcast_id,
            "run_id": run_id,
            "submitted_at": submitted,
            "unfollows_24h": measured.unsubscribes,
            "baseline_24h": measured.baseline,
            "lift": measured.lift,
        }

    async def finalize(self, tenant_id: str, timezone: str) -> None:
        """Days the raw log is about to drop become ``analytics_days``; then it drops them."""
        keep_from = self.reports.today(timezone) - timedelta(days=self.reports.raw_days - 1)
        first = keep_from - timedelta(days=7)
        for n in range(7):
            day: date = first + timedelta(days=n)
            facts = await self.store.facts(
                tenant_id, first_day=day.isoformat(), last_day=day.isoformat()
            )
            if facts:
                answered = await self.store.answered(tenant_id, day.isoformat())
                await self.store.finalize(
                    tenant_id, day_doc(day_figures(day.isoformat(), facts, answered))
                )
        await self.store.purge(tenant_id, keep_from.isoformat())

    async def _publish(self, tenant_id: str, payload: Any, stamp: str) -> None:
        event_id = hashlib.sha256(stamp.encode()).hexdigest()[:32]
        envelope = announce(payload, id=event_id, tenant_id=tenant_id, at=self.reports.now())
        await self.events.publish(envelope)
        self.metrics.published.labels(payload.TYPE).inc()
