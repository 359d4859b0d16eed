"""What an operator does with broadcasts: schedule, stop, delete, and read the quota.
Named errors here; ``api.py`` maps them to HTTP.

A broadcast is validated, its first run's quota slot is taken (``QuotaFull`` naming the
next day or month with room when none is left), and it is planned; the timer of the
replica that took it starts it on time. Cancel and delete race the runner through the
run's fate (``store.decide``): whichever is recorded first holds, so a broadcast is
either stopped before its send or reported as sending (``Conflict``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.scheduler.advice import warnings_for
from services.scheduler.batches import split
from services.scheduler.planning import Account, new_run, plan, reserve
from services.scheduler.quota import QuotaView, limit_of, next_allowed_at, period_of
from services.scheduler.runs import CANCELLED, FAILED, OPEN, SCHEDULED, SKIPPED, Run
from services.scheduler.schedule import first_due, iso_z, schedule_to_json
from services.scheduler.spec import BroadcastSpec, InvalidBroadcast, SpecLimits, parse_broadcast
from services.scheduler.store import BroadcastStore

WEEK = timedelta(days=7)


class QuotaFull(Exception):
    def __init__(self, message: str, next_allowed_at: datetime) -> None:
        super().__init__(message)
        self.next_allowed_at = next_allowed_at


class Conflict(Exception):
    """The broadcast's state does not allow it; the message names the state."""


def new_broadcast_id(now: datetime) -> str:
    """``b`` + creation time in ms + randomness: ids sort by creation, for ``after``."""
    return f"b{int(now.timestamp() * 1000):012x}{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Broadcasts:
    store: BroadcastStore
    limits: SpecLimits
    max_per_week: int
    planned: Callable[[str, datetime], None]  # tells this replica's timer
    now: Callable[[], datetime]

    async def create(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        notes = await self.store.notes(account.tenant_id)
        spec = parse_broadcast(body, timezone=account.timezone, now=now, limits=self.limits)
        advice = notes.get("send_time", {}).get("hour")
        due = first_due(spec.schedule, timezone=account.timezone, now=now, advice_hour=advice)
        if due is None:
            raise InvalidBroadcast("schedule", "no due time after now")
        bid = new_broadcast_id(now)
        batches = split(spec.audience.openids) if spec.audience.kind == "openids" else []
        run = new_run(account, bid, due, len(batches))
        if spec.audience.counts_toward_quota and not await reserve(
            self.store, account, run, now=now
        ):
            raise await self._quota_full(account, due)
        warnings = await self.warnings(account, due, notes, bid)
        await self.store.save_audience(account.tenant_id, bid, batches)
        doc = _doc(bid, spec, due, now, len(batches))
        await self.store.insert_broadcast(account.tenant_id, {**doc, "warnings": warnings})
        await plan(self.store, run)
        self.planned(run.key, due)
        return {"id": bid, "status": SCHEDULED, "next_run_at": iso_z(due), "warnings": warnings}

    async def _quota_full(self, account: Account, due: datetime) -> QuotaFull:
        view = await self.quota(account, due)
        when = iso_z(view.next_allowed_at)
        return QuotaFull(
            f"schedule: the {account.account_type} account's {view.limit} broadcast(s) to all "
            f"or a tag in {view.period} are taken or reserved; next allowed at {when}",
            view.next_allowed_at,
        )

    async def warnings(
        self, account: Account, due: datetime, notes: dict[str, Any], bid: str
    ) -> list[dict[str, str]]:
        runs = await self.store.runs_between(account.tenant_id, due - WEEK, due + WEEK)
        return self._warnings(account, due, notes, bid, runs)

    async def warnings_of(
        self, account: Account, docs: Sequence[dict[str, Any]], notes: dict[str, Any]
    ) -> dict[str, list[dict[str, str]]]:
        """The warnings of each of a page of broadcasts that has a run to come, from one
        query of the runs around them all."""
        dues: dict[str, datetime] = {
            d["_id"]: d["next_run_at"] for d in docs if d.get("next_run_at")
        }
        if not dues:
            return {}
        start, end = min(dues.values()) - WEEK, max(dues.values()) + WEEK
        runs = await self.store.runs_between(account.tenant_id, start, end)
        return {
            bid: self._warnings(
                account, due, notes, bid, [r for r in runs if due - WEEK <= r.due_at < due + WEEK]
            )
            for bid, due in dues.items()
        }

    def _warnings(
        self,
        account: Account,
        due: datetime,
        notes: dict[str, Any],
        bid: str,
        runs: Sequence[Run],
    ) -> list[dict[str, str]]:
        gone = (CANCELLED, SKIPPED, FAILED)
        nearby = [r.due_at for r in runs if r.broadcast_id != bid and r.status not in gone]
        lift = notes.get("impact", {}).get("lift")
        found = warnings_for(
            due=due,
            timezone=account.timezone,
            nearby=nearby,
            max_per_week=self.max_per_week,
            last_lift=float(lift) if isinstance(lift, int | float) else None,
        )
        return [w.to_json() for w in found]

    async def cancel(self, account: Account, doc: dict[str, Any]) -> None:
        await self._stop(account, doc)
        await self.store.update_broadcast(
            account.tenant_id, doc["_id"], status=CANCELLED, next_run_at=None
        )

    async def delete(self, account: Account, doc: dict[str, Any]) -> None:
        if await self.store.has_sent(account.tenant_id, doc["_id"]):
            raise Conflict(f"broadcast is {doc['status']} and has sent runs: cancel it instead")
        runs = await self._stop(account, doc)
        for run in runs:
            await self.store.release_slot(account.tenant_id, run.key)
            await self.store.forget_run(run.key, run.claims)
        await self.store.delete_broadcast(account.tenant_id, doc["_id"])

    async def _stop(self, account: Account, doc: dict[str, Any]) -> list[Run]:
        """Cancels the broadcast's open run, unless it has started sending."""
        if doc["status"] != SCHEDULED:
            raise Conflict(f"broadcast is {doc['status']}")
        runs = await self.store.runs_of(account.tenant_id, doc["_id"])
        for run in (r for r in runs if r.status in OPEN):
            if run.status != SCHEDULED or await self.store.decide(run.key, "cancel") != "cancel":
                raise Conflict("broadcast is sending")
            now = self.now()
            await self.store.schedule(run.key, now, SCHEDULED)  # the runner ends it, frees its slot
            self.planned(run.key, now)
        return runs

    async def quota(self, account: Account, at: datetime) -> QuotaView:
        """Sends used (WeChat took them) and reserved in ``at``'s period; the next free one."""
        period = period_of(account.account_type, at, account.timezone)
        slots = await self.store.slots_from(account.tenant_id, period.key)
        taken: dict[str, int] = {}
        for slot in slots:
            taken[slot["period"]] = taken.get(slot["period"], 0) + 1
        used = 0
        for slot in (s for s in slots if s["period"] == period.key):
            _, bid, run_id = str(slot["run"]).split("/")
            run = await self.store.run(account.tenant_id, bid, run_id)
            used += bool(run is not None and run.msg_ids)
        return QuotaView(
            account_type=account.account_type,
            period=period.key,
            used=used,
            reserved=taken.get(period.key, 0) - used,
            limit=limit_of(account.account_type),
            next_allowed_at=next_allowed_at(
                account.account_type, account.timezone, taken=taken, at=at
            ),
        )


def _doc(
    bid: str, spec: BroadcastSpec, due: datetime, now: datetime, batches: int
) -> dict[str, Any]:
    audience = spec.audience.to_json()
    if spec.audience.kind == "openids":
        audience = {"kind": "openids", "count": len(spec.audience.openids)}
    return {
        "_id": bid,
        "name": spec.name,
        "message": spec.message.to_json(),
        "audience": audience,
        "schedule": schedule_to_json(spec.schedule),
        "status": SCHEDULED,
        "created_at": now,
        "next_run_at": due,
        "batches": max(batches, 1),
    }


def view_of(doc: dict[str, Any], warnings: list[dict[str, str]]) -> dict[str, Any]:
    """A broadcast as the API shows it."""
    created, next_run = doc.get("created_at"), doc.get("next_run_at")
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "message": doc["message"],
        "audience": doc["audience"],
        "schedule": doc["schedule"],
        "status": doc["status"],
        "created_at": iso_z(created) if isinstance(created, datetime) else None,
        "next_run_at": iso_z(next_run) if isinstance(next_run, datetime) else None,
        "warnings": warnings,
    }
