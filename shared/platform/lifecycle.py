"""Lifecycles held by an app's ``cleanup_ctx``: background tasks, things to close, and
the order in which a consumer service starts and stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web

from shared.platform.bus import Broker
from shared.platform.consumer import Consumer
from shared.platform.storage import Client

logger = logging.getLogger(__name__)
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def background(
    *jobs: Callable[[], Coroutine[Any, Any, None]],
) -> CleanupContext:
    """A cleanup_ctx entry running ``jobs`` as tasks for the app's life, cancelled at the end."""

    async def context(_: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job(), name=job.__qualname__) for job in jobs]
        for task in tasks:
            task.add_done_callback(_report_crash)
        yield
        logger.info("stopping %s", ", ".join(task.get_name() for task in tasks))
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return context


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.critical("background task %s died", task.get_name(), exc_info=task.exception())


def closing(close: Callable[[], Awaitable[Any]]) -> CleanupContext:
    """A cleanup_ctx entry that only closes something at the end."""

    async def context(_: web.Application) -> AsyncIterator[None]:
        yield
        await close()

    return context


def run_consumer(
    app: web.Application,
    *,
    mongo: Client,
    broker: Broker,
    consumer: Consumer,
    grace: float,
    resources: Sequence[CleanupContext] = (),
) -> None:
    """A consumer service's lifecycle. Shutdown runs it in reverse: stop consuming and
    finish in-flight work first, then the broker, the resources, the database."""
    app.cleanup_ctx.append(closing(mongo.close))
    app.cleanup_ctx.extend(resources)
    app.cleanup_ctx.append(background(broker.run))
    app.cleanup_ctx.append(closing(lambda: consumer.stop(grace)))
