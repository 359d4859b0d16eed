"""The due timer's bookkeeping, against an in-memory due index: a run is looked at again
after every scan that finds it due, however long an earlier look at it took."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.timer import DueTimer

KEY = "t/b/r1"


class DueIndex:
    def __init__(self, due_at: datetime) -> None:
        self.entries = [{"_id": KEY, "due_at": due_at, "status": "sending"}]

    async def ensure_indexes(self) -> None:
        return None

    async def due(self, until: datetime) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["due_at"] <= until]


class Looks:
    """``look_at``: counts the looks; the first waits until the test lets it end."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.first_may_end = asyncio.Event()

    async def __call__(self, key: str) -> None:
        self.started.append(key)
        if len(self.started) == 1:
            await self.first_may_end.wait()


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_scan_during_a_long_look_does_not_stop_later_looks() -> None:
    """Another replica holds the run's claim while this one's look at it is slow (the
    database is): the scans during that look must not leave the run forgotten."""
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    looks = Looks()
    timer = DueTimer(
        DueIndex(now - timedelta(seconds=30)),  # started; its claim is held elsewhere
        looks,
        SchedulerMetrics.create(CollectorRegistry()),
        scan_seconds=1.0,
        horizon_seconds=5.0,
        concurrency=4,
        now=lambda: now,
    )
    firing = asyncio.create_task(timer.fire())
    try:
        await timer.scan_once()
        await settle()
        assert looks.started == [KEY]  # the first look, still going
        await timer.scan_once()  # asks again while that look is under way
        await settle()
        assert looks.started == [KEY]  # not twice at once
        looks.first_may_end.set()
        await settle()
        await timer.scan_once()
        await settle()
        assert looks.started == [KEY, KEY]
        await timer.scan_once()
        await settle()
        assert looks.started == [KEY, KEY, KEY]
    finally:
        firing.cancel()
        await asyncio.gather(firing, return_exceptions=True)
