"""Putting a run on the calendar: its document, its quota slot and its place in the due
index, in that order, so the runner never finds a due entry without its run. Used when a
broadcast is created and when a recurring one moves on to its next due time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.scheduler.batches import client_msg_id
from services.scheduler.quota import limit_of, period_of
from services.scheduler.runs import SCHEDULED, Batch, Run
from services.scheduler.schedule import run_id_for
from services.scheduler.store import BroadcastStore


@dataclass(frozen=True, slots=True)
class Account:
    """What the scheduler needs of a tenant."""

    tenant_id: str
    appid: str
    account_type: str
    timezone: str

    @classmethod
    def of(cls, tenant_id: str, doc: dict[str, Any]) -> Account:
        return cls(
            tenant_id,
            str(doc.get("appid", "")),
            str(doc.get("account_type") or "service"),
            str(doc.get("timezone") or "Asia/Shanghai"),
        )


def new_run(account: Account, broadcast_id: str, due: datetime, batches: int) -> Run:
    """The run of ``broadcast_id`` due at ``due`` with its deterministic clientmsgids
    (``batches`` mass-send calls: one for all or a tag, one per 10,000 openids)."""
    run_id = run_id_for(due)
    return Run(
        tenant_id=account.tenant_id,
        broadcast_id=broadcast_id,
        run_id=run_id,
        due_at=due,
        batches=tuple(
            Batch(n, client_msg_id(account.tenant_id, broadcast_id, run_id, n))
            for n in range(max(batches, 1))
        ),
    )


async def reserve(store: BroadcastStore, account: Account, run: Run, *, now: datetime) -> bool:
    """Takes a send of the quota period the run falls due in, unless the run holds one
    already (checked again when it falls due); False when the period is full."""
    if await store.holds_slot(account.tenant_id, run.key):
        return True
    period = period_of(account.account_type, run.due_at, account.timezone)
    limit = limit_of(account.account_type)
    return await store.reserve_slot(account.tenant_id, period.key, limit, run.key, now=now)


async def plan(store: BroadcastStore, run: Run) -> bool:
    """Writes the run and asks for it at its due time; False when it was planned already
    (a replica moving a recurring broadcast on after another did)."""
    if not await store.insert_run(run):
        existing = await store.run(run.tenant_id, run.broadcast_id, run.run_id)
        if existing is None or existing.status != SCHEDULED:
            return False
    await store.schedule(run.key, run.due_at, SCHEDULED)
    return True
