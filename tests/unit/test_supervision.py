"""Background loops survive what they do not expect: restarted, counted, and visible."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.platform import supervision
from shared.platform.supervision import BackgroundTasks, paced


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def restarts(registry: CollectorRegistry, task: str) -> float:
    return registry.get_sample_value("wxp_background_restarts_total", {"task": task}) or 0.0


async def test_a_loop_that_raises_anything_is_restarted_and_counted() -> None:
    registry = CollectorRegistry()
    tasks = BackgroundTasks(registry, first_backoff=0.001, max_backoff=0.01)
    runs: list[int] = []
    done = asyncio.Event()

    async def relay() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise KeyError("not a database error")  # the old loops caught only PyMongoError
        done.set()
        await asyncio.Event().wait()

    supervised = asyncio.create_task(tasks.supervise("relay", relay))
    await asyncio.wait_for(done.wait(), 5)
    supervised.cancel()

    assert len(runs) == 3
    assert restarts(registry, "relay") == 2


async def test_a_loop_that_returns_is_restarted_too() -> None:
    registry = CollectorRegistry()
    tasks = BackgroundTasks(registry, first_backoff=0.001)
    runs: list[int] = []
    done = asyncio.Event()

    async def writer() -> None:
        runs.append(1)
        if len(runs) == 2:
            done.set()
            await asyncio.Event().wait()

    supervised = asyncio.create_task(tasks.supervise("writer", writer))
    await asyncio.wait_for(done.wait(), 5)
    supervised.cancel()

    assert restarts(registry, "writer") == 1


async def test_not_ready_while_a_loop_waits_to_restart_and_for_a_while_after() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    tasks = BackgroundTasks(registry, first_backoff=3600, unready_after_crash=30, clock=clock)
    assert tasks.healthy()
    crashed = asyncio.Event()

    async def broken() -> None:
        crashed.set()
        raise RuntimeError("boom")

    supervised = asyncio.create_task(tasks.supervise("broken", broken))
    await crashed.wait()
    await asyncio.sleep(0)  # it is in its backoff now

    assert not tasks.healthy()
    assert registry.get_sample_value("wxp_background_task_up", {"task": "broken"}) == 0
    supervised.cancel()
    await asyncio.gather(supervised, return_exceptions=True)
    assert not tasks.healthy()  # crashed 0 s ago
    clock.now += 31
    assert tasks.healthy()


async def test_a_cancel_reported_as_a_libraries_own_error_stops_the_loop() -> None:
    registry = CollectorRegistry()
    tasks = BackgroundTasks(registry, first_backoff=0.001, max_backoff=0.01)
    reading = asyncio.Event()

    async def fold() -> None:  # as pymongo does with a read a cancel interrupts
        try:
            reading.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ConnectionError("connection closed") from None

    supervised = asyncio.create_task(tasks.supervise("fold", fold))
    await asyncio.wait_for(reading.wait(), 5)
    supervised.cancel()
    done, _ = await asyncio.wait({supervised}, timeout=2)

    assert done, "the loop went on after its cancel"
    assert restarts(registry, "fold") == 0


async def test_a_loop_that_will_not_stop_is_left_behind_and_named_where_it_waits(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Shutdown waits ``STOP_SECONDS`` for a cancelled loop, then goes on without it."""
    monkeypatch.setattr(supervision, "STOP_SECONDS", 0.2)
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):  # what a library did once
                await release.wait()

    async def polite() -> None:
        await asyncio.Event().wait()

    context = BackgroundTasks(CollectorRegistry()).background(stubborn, polite)(web.Application())
    await anext(context)
    await asyncio.sleep(0)
    started = time.monotonic()
    with pytest.raises(StopAsyncIteration):
        await anext(context)

    assert time.monotonic() - started < 2
    [line] = [r.getMessage() for r in caplog.records if "did not stop" in r.getMessage()]
    assert "stubborn did not stop in 0s" in line
    assert "test_supervision.py" in line
    release.set()


async def test_idle_raises_a_cancel_a_library_swallowed() -> None:
    """Python 3.11's wait_for drops a cancel that comes as its result does; the loop's
    next pause raises it, so the loop stops rather than sleeping on."""
    swallowed = asyncio.Event()

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()  # as the library did: on with the result
        await supervision.idle(3600)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)

    assert swallowed.is_set()
    assert done
    assert task.cancelled()


async def test_idle_returns_when_woken_or_after_its_seconds() -> None:
    wake = asyncio.Event()
    started = time.monotonic()
    await supervision.idle(0.05, wake)
    assert time.monotonic() - started >= 0.05
    wake.set()
    await asyncio.wait_for(supervision.idle(3600, wake), 1)


async def test_paced_items_come_spread_over_the_time_given() -> None:
    arrived: list[float] = []
    async for _ in paced(["a", "b", "c"], over=0.3):
        arrived.append(time.monotonic())
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrived)]
    assert min(gaps) >= 0.08  # 0.3 s over three items: 0.1 s apart


async def test_paced_items_whose_work_outlasts_the_gap_come_at_once() -> None:
    seen: list[str] = []
    began = time.monotonic()
    async for item in paced(["a", "b", "c"], over=0.3):
        seen.append(item)
        await asyncio.sleep(0.15)  # longer than the 0.1 s gap: the schedule is behind
    assert seen == ["a", "b", "c"]
    assert time.monotonic() - began < 0.6  # three times the work, no pause on top
