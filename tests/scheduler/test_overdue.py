"""How late the most overdue run is (``wxp_scheduler_overdue_seconds``): the pure reckoning,
then the timer's scan over the real due index, with the clock in the test's hands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.scheduler.runs import SENDING, SUBMITTED
from services.scheduler.store import BroadcastStore
from services.scheduler.timer import DueTimer, overdue_seconds
from tests.scheduler.conftest import Harness
from tests.support.bus import eventually
from tests.support.fake_wechat import Fault

TEXT = {"type": "text", "content": "周末特惠"}
ALL = {"kind": "all"}
SENDALL = "/cgi-bin/message/mass/sendall"
# Far from what a running scheduler's wall clock would start: the due index is shared.
FAR = datetime(2098, 12, 1, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def entry(status: str, due_at: datetime) -> dict[str, Any]:
    return {"_id": f"t/b/{status}-{due_at:%H%M%S}", "due_at": due_at, "status": status}


def test_the_oldest_run_due_and_not_started_sets_the_lag() -> None:
    entries = [
        entry("scheduled", NOW - timedelta(seconds=30)),
        entry("scheduled", NOW - timedelta(minutes=3)),
        entry("scheduled", NOW + timedelta(seconds=20)),  # not due yet
    ]
    assert overdue_seconds(entries, now=NOW) == 180.0


def test_runs_started_or_submitted_are_not_overdue_however_old_their_entry() -> None:
    entries = [
        entry("sending", NOW - timedelta(minutes=10)),  # started; its send goes on
        entry("submitted", NOW - timedelta(minutes=20)),  # its check is due
        entry("scheduled", NOW),  # due this instant
    ]
    assert overdue_seconds(entries, now=NOW) == 0.0
    assert overdue_seconds([], now=NOW) == 0.0


class OneTenant(BroadcastStore):
    """The real store, whose due index shows one tenant's entries: every test, and every
    test run, shares the index."""

    def __init__(self, store: BroadcastStore, tenant_id: str) -> None:
        self.__dict__.update(store.__dict__)
        self.tenant_id = tenant_id

    async def due(self, until: datetime) -> list[dict[str, Any]]:
        entries = await super().due(until)
        return [e for e in entries if str(e["_id"]).startswith(self.tenant_id + "/")]


def timer_of(h: Harness) -> DueTimer:
    """A replica's timer whose scans the test makes; the test starts the runs itself."""

    async def look_at(_: str) -> None:
        return None

    store = OneTenant(h.store, h.account.tenant_id)
    return DueTimer(
        store,
        look_at,
        h.worker.metrics,
        scan_seconds=5.0,
        horizon_seconds=30.0,
        concurrency=4,
        now=h.clock,
    )


def overdue(h: Harness) -> float:
    return h.sample("wxp_scheduler_overdue_seconds")


async def test_a_run_due_and_not_started_is_overdue_until_it_starts(sched: Harness) -> None:
    sched.clock.now = FAR
    timer = timer_of(sched)
    created = await sched.create(
        name="late", message=TEXT, audience=ALL, schedule={"at": "2098-12-01T11:00"}
    )  # 03:00 UTC, in an hour
    await timer.scan_once()
    assert overdue(sched) == 0.0

    sched.clock.advance(hours=1, minutes=3)  # due 3 minutes ago; nobody started it
    await timer.scan_once()
    assert overdue(sched) == 180.0
    sched.clock.advance(seconds=30)
    await timer.scan_once()
    assert overdue(sched) == 210.0

    assert await sched.fire_due() == 1  # a replica starts it, and WeChat takes it
    assert (await sched.run_of(created["id"])).status == SUBMITTED
    await timer.scan_once()
    assert overdue(sched) == 0.0
    assert sched.sample("wxp_scheduler_due_lag_seconds_sum") == 210.0


async def test_a_run_whose_send_is_under_way_is_not_overdue(sched: Harness) -> None:
    """A started run's entry stays due until its send is over (WeChat answers slowly
    here); the runner marks it ``sending`` as it starts, so it is not counted late."""
    sched.clock.now = FAR
    timer = timer_of(sched)
    sched.fake.add_fault(Fault(path=SENDALL, delay=1.0, times=1))
    created = await sched.create(
        name="slow", message=TEXT, audience=ALL, schedule={"at": "2098-12-01T11:00"}
    )
    sched.clock.advance(hours=1, minutes=3)
    sending = asyncio.create_task(sched.fire_due())
    try:

        async def started() -> bool:
            return (await sched.run_of(created["id"])).status == SENDING

        await eventually(started, 10.0, what="the run started")
        await timer.scan_once()
        assert overdue(sched) == 0.0
        assert sched.sample("wxp_scheduler_runs", status="sending") == 1
        assert sched.sample("wxp_scheduler_runs", status="scheduled") == 0
    finally:
        await sending
    assert (await sched.run_of(created["id"])).status == SUBMITTED
