"""Lifecycles held by an app's ``cleanup_ctx``: things to close, and the order in which a
consumer service starts and stops (background loops are in ``supervision.py``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from shared.platform.bus import Broker
from shared.platform.consumer import Consumer
from shared.platform.storage import Client
from shared.platform.supervision import BackgroundTasks, CleanupContext

logger = logging.getLogger(__name__)


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
    tasks: BackgroundTasks,
    resources: Sequence[CleanupContext] = (),
) -> None:
    """A consumer service's lifecycle. Shutdown runs it in reverse: stop consuming and
    finish in-flight work first, then the broker, the resources, the database."""
    app.cleanup_ctx.append(closing(mongo.close))
    app.cleanup_ctx.extend(resources)
    app.cleanup_ctx.append(tasks.background(broker.run))
    app.cleanup_ctx.append(closing(lambda: consumer.stop(grace)))
