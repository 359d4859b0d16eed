"""When to look at which run: a timer per replica over the shared due index.

Every ``scan_seconds`` the replica reads the entries due within ``horizon_seconds`` into
an in-memory heap, and starts each at its time, so a run starts on time however long the
scan takes (one range read on MongoDB, a scan of small documents on FerretDB). A run this
replica plans is added at once. Every replica may start the same run: the claim in
``runner.py`` lets one work on it.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.runs import SCHEDULED
from shared.platform.supervision import idle

logger = logging.getLogger(__name__)
LIVE_STATUSES = ("scheduled", "sending", "submitted")


class DueIndex(Protocol):
    """What the timer reads of the store (``BroadcastStore`` in the service)."""

    async def ensure_indexes(self) -> None: ...

    async def due(self, until: datetime) -> list[dict[str, Any]]: ...


class DueTimer:
    def __init__(
        self,
        store: DueIndex,
        look_at: Callable[[str], Awaitable[None]],
        metrics: SchedulerMetrics,
        *,
        scan_seconds: float,
        horizon_seconds: float,
        concurrency: int,
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._look_at = look_at
        self._metrics = metrics
        self._scan = scan_seconds
        self._horizon = timedelta(seconds=horizon_seconds)
        self._now = now
        self._heap: list[tuple[datetime, str]] = []
        self._queued: dict[str, datetime] = {}  # the latest time asked for each key
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()

    def add(self, key: str, due_at: datetime) -> None:
        """Looks at ``key`` at ``due_at`` if that is within the horizon (else a scan will)."""
        if due_at > self._now() + self._horizon or self._queued.get(key) == due_at:
            return
        self._queued[key] = due_at
        heapq.heappush(self._heap, (due_at, key))
        self._wake.set()

    async def scan(self) -> None:
        """Background loop: ``scan_once`` every ``scan_seconds``."""
        await self._store.ensure_indexes()
        while True:
            await self.scan_once()
            await idle(self._scan)

    async def scan_once(self) -> None:
        """The due index into the heap, and its gauges."""
        now = self._now()
        entries = await self._store.due(now + self._horizon)
        for entry in entries:
            self.add(str(entry["_id"]), entry["due_at"])
        counts = Counter(str(entry.get("status")) for entry in entries)
        for status in LIVE_STATUSES:
            self._metrics.runs.labels(status).set(counts.get(status, 0))
        self._metrics.overdue.set(overdue_seconds(entries, now=now))

    async def fire(self) -> None:
        """Background loop: starts each key at its time, at most ``concurrency`` at once."""
        try:
            while True:
                if not self._heap:
                    await self._sleep(None)
                    continue
                due_at, key = self._heap[0]
                wait = (due_at - self._now()).total_seconds()
                if wait > 0:
                    await self._sleep(wait)
                    continue
                heapq.heappop(self._heap)
                if self._queued.get(key) != due_at:
                    continue  # superseded by a later ask
                del self._queued[key]
                if key in self._busy:
                    continue  # being looked at right now; a scan after that look asks again
                await self._slots.acquire()
                self._busy.add(key)
                task = asyncio.create_task(self._work(key), name=f"run {key}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            for task in list(self._tasks):
                task.cancel()  # a send cut short is sent again, under the same clientmsgid

    async def _sleep(self, seconds: float | None) -> None:
        self._wake.clear()
        await idle(seconds, self._wake)

    async def _work(self, key: str) -> None:
        try:
            await self._look_at(key)
        except Exception:
            logger.exception("run %s: looking at it failed; the next scan tries again", key)
        finally:
            self._busy.discard(key)
            self._slots.release()


def overdue_seconds(entries: Iterable[Mapping[str, Any]], *, now: datetime) -> float:
    """How late the most overdue run is at ``now``: the oldest due time among the due
    index's ``entries`` that are due and not yet started (still ``scheduled``: the runner
    marks a run's entry ``sending`` as it starts it); 0 when none is."""
    late = [e["due_at"] for e in entries if e.get("status") == SCHEDULED and e["due_at"] <= now]
    return (now - min(late)).total_seconds() if late else 0.0
