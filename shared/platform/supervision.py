"""A service's long-running loops (broker connection, relay, notes writer), kept alive.

A loop that raises, or returns, is logged, counted in ``wxp_background_restarts_total``
and started again after a backoff (doubling to a ceiling, reset once it has run that
long). ``/readyz`` reports the service not ready while a loop waits for its restart and
for a while after each crash, so a crash-looping replica leaves the load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

logger = logging.getLogger(__name__)
CleanupContext = Callable[[web.Application], AsyncIterator[None]]
STOP_SECONDS = 10.0  # the longest a cancelled loop may take to stop at shutdown
Job = Callable[[], Coroutine[Any, Any, None]]
T = TypeVar("T")


def stopping() -> bool:
    """Is the current task being cancelled (the app shutting down)? A loop that survives
    database errors asks this before it carries on: pymongo reports a read that a
    cancellation interrupted as a connection error, and a loop that took it for one more
    failure would never stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def idle(seconds: float | None, wake: asyncio.Event | None = None) -> None:
    """A background loop's pause: ``seconds`` (None: no limit), or until ``wake`` is set.
    First it raises the cancel of a task being cancelled. Python 3.11's
    ``asyncio.wait_for``, which pymongo calls for every send, returns a result that came
    as the cancel did and drops the cancel (fixed in 3.12): a loop that went on to sleep
    then ran for ever, and held a test's shutdown for minutes."""
    if stopping():
        raise asyncio.CancelledError
    if wake is None:
        await asyncio.sleep(seconds if seconds is not None else float("inf"))
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), seconds)


async def paced(items: Sequence[T], *, over: float) -> AsyncIterator[T]:
    """``items`` spread over ``over`` seconds: the ``n``-th no sooner than ``n`` × ``over``
    ÷ their number seconds after the first (at once when the work between them took
    longer), so that a background job's burst reaches the CPU and the database as a
    trickle."""
    began, gap = time.monotonic(), over / max(len(items), 1)
    for n, item in enumerate(items):
        if n:
            await asyncio.sleep(max(0.0, began + n * gap - time.monotonic()))
        yield item


def awaiting(task: asyncio.Task[Any]) -> list[str]:
    """Where ``task`` waits: each coroutine down its chain of awaits, with its line."""
    where: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            where.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return where


class BackgroundTasks:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        first_backoff: float = 0.5,
        max_backoff: float = 30.0,
        unready_after_crash: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._restarts = Counter(
            "wxp_background_restarts_total",
            "Background loops restarted after they raised or returned",
            ["task"],
            registry=registry,
        )
        self._up = Gauge(
            "wxp_background_task_up",
            "1 while a background loop runs, 0 while it waits to be restarted",
            ["task"],
            registry=registry,
        )
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._unready_after = unready_after_crash
        self._clock = clock
        self._down: set[str] = set()
        self._crashed_at: dict[str, float] = {}

    def healthy(self) -> bool:
        now = self._clock()
        recent = any(now - at < self._unready_after for at in self._crashed_at.values())
        return not self._down and not recent

    def background(self, *jobs: Job) -> CleanupContext:
        """A cleanup_ctx entry running ``jobs`` supervised for the app's life, cancelled at
        the end (in reverse order of the entries, as aiohttp runs cleanups)."""

        async def context(_: web.Application) -> AsyncIterator[None]:
            tasks = [
                asyncio.create_task(self.supervise(job.__qualname__, job), name=job.__qualname__)
                for job in jobs
            ]
            yield
            logger.info("stopping %s", ", ".join(task.get_name() for task in tasks))
            for task in tasks:
                task.cancel()
            stuck = (await asyncio.wait(tasks, timeout=STOP_SECONDS))[1]
            for task in stuck:  # a shutdown never hangs on one loop: say where it waits
                logger.error(
                    "%s did not stop in %.0fs; left behind, waiting at %s",
                    task.get_name(),
                    STOP_SECONDS,
                    " > ".join(awaiting(task)),
                )
            for task in tasks:
                if task in stuck or task.cancelled():
                    continue
                if (exc := task.exception()) is not None:  # the cancel, said its own way
                    logger.info("%s stopped: %r", task.get_name(), exc)

        return context

    async def supervise(self, name: str, job: Job) -> None:
        """Runs ``job`` until cancelled, restarting it whenever it stops."""
        backoff = self._first_backoff
        while True:
            started = self._clock()
            self._up.labels(name).set(1)
            try:
                await job()
                logger.error("background task %s returned; restarting it", name)
            except Exception:
                if stopping():
                    raise  # a cancel a library reported as its own error: stop, not restart
                logger.critical("background task %s failed; restarting it", name, exc_info=True)
            self._up.labels(name).set(0)
            self._down.add(name)
            self._crashed_at[name] = self._clock()
            self._restarts.labels(name).inc()
            if self._clock() - started >= self._max_backoff:
                backoff = self._first_backoff  # it ran well for a while: a fresh failure
            try:
                await asyncio.sleep(backoff)
            finally:
                self._down.discard(name)
            backoff = min(backoff * 2, self._max_backoff)
