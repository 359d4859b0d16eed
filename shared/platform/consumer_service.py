"""A service whose work arrives on its queue, as its composition root assembles it: the
tenant directory, the consumer routing to the service's handlers, the broker, the app."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aio_pika.abc import AbstractConnection
from aiohttp import web

from shared.contracts.topology import service_queues
from shared.platform.bus import Broker, OnConnect
from shared.platform.consumer import Consumer
from shared.platform.control import TENANT_NOTICES
from shared.platform.delivery import Handlers
from shared.platform.directory import TenantDirectory
from shared.platform.lifecycle import run_consumer
from shared.platform.metrics import ConsumerMetrics
from shared.platform.service import Platform, base_app
from shared.platform.settings import ConsumerSettings
from shared.platform.storage import PyMongoError
from shared.platform.supervision import CleanupContext

logger = logging.getLogger(__name__)


def tenant_directory(platform: Platform) -> TenantDirectory:
    """Which tenants exist (cached), forgetting a tenant on every change notice."""
    directory = TenantDirectory(platform.mongo)
    for change in TENANT_NOTICES:
        platform.control.on(change, directory.forget)
    return directory


def consumer_app(
    platform: Platform,
    settings: ConsumerSettings,
    *,
    handlers: Handlers,
    directory: TenantDirectory,
    openapi: dict[str, Any],
    routes: Sequence[web.RouteDef] = (),
    on_connect: Sequence[OnConnect] = (),
    resources: Sequence[CleanupContext] = (),
    client_max_size: int = 1024 * 1024,
) -> web.Application:
    """A service whose work arrives on its queue: the queue's consumer routing to
    ``handlers``, the broker connection, health, API ``routes``; ``on_connect``: more broker
    set-up (publishers), ``resources``: more to hold for the app's life."""
    consumer = Consumer(
        service_queues(settings.queue_prefix)[platform.service],
        handlers,
        metrics=ConsumerMetrics.create(platform.registry),
        prefetch=settings.prefetch,
        tenant_exists=directory.exists,
    )

    async def load_directory(_: AbstractConnection) -> None:
        """Every tenant at once before the first delivery (a database that is away then
        leaves the lookups to each event, as they were)."""
        try:
            logger.info("tenant directory: %d tenants loaded", await directory.load())
        except PyMongoError as exc:
            logger.warning("tenant directory not loaded: %s", exc)

    broker = Broker(
        settings.common.amqp_url,
        name=f"wxp-{platform.service}",
        on_connect=[platform.control.setup, *on_connect, load_directory, consumer.setup],
    )
    app = base_app(platform, broker=broker, openapi=openapi, client_max_size=client_max_size)
    app.add_routes(routes)
    run_consumer(
        app,
        mongo=platform.mongo,
        broker=broker,
        consumer=consumer,
        grace=settings.common.shutdown_grace_seconds,
        tasks=platform.tasks,
        resources=resources,
    )
    return app
