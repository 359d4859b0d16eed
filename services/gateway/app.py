"""The gateway's composition root: the only place that builds its clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from services.gateway.api import TenantApi
from services.gateway.events import EventStore, RelayClaims
from services.gateway.intake import Intake
from services.gateway.marks import PublishedMarks
from services.gateway.metrics import GatewayMetrics
from services.gateway.openapi import gateway_openapi
from services.gateway.relay import Relay
from services.gateway.repository import TenantRepository
from services.gateway.settings import GatewaySettings
from services.gateway.tenant_cache import TenantCache
from services.gateway.webhook import Webhook
from shared.auth import KeyStore
from shared.bus import Broker
from shared.publisher import EventPublisher
from shared.runtime import Platform, background, base_app, closing
from shared.secretbox import SecretBox
from shared.storage import UNAVAILABLE
from shared.topology import service_queues


def create_app(settings: GatewaySettings) -> web.Application:
    common = settings.common
    box = SecretBox.from_setting(common.master_key)
    platform = Platform.build("gateway", common)
    mongo = platform.mongo
    metrics = GatewayMetrics.create(platform.registry)
    publisher = EventPublisher(
        queues=list(service_queues(settings.queue_prefix).values()),
        confirm_timeout=settings.confirm_timeout_seconds,
    )
    broker = Broker(
        common.amqp_url, name="wxp-gateway", on_connect=[platform.control.setup, publisher.setup]
    )
    tenants = TenantRepository(mongo, box)
    tenant_cache = TenantCache(tenants, ttl=settings.tenant_cache_seconds)
    for change in ("tenant.changed", "tenant.deleted"):
        platform.control.on(change, tenant_cache.forget)
    store = EventStore(mongo)
    marks = PublishedMarks(mongo)
    intake = Intake(
        store=store,
        marks=marks,
        publisher=publisher,
        metrics=metrics,
        reply_deadline=settings.reply_deadline_seconds,
        retry_grace=settings.retry_grace_seconds,
    )
    relay = Relay(
        intake=intake,
        store=store,
        publisher=publisher,
        broker=broker,
        metrics=metrics,
        claims=RelayClaims(mongo, stale_after=timedelta(seconds=30)),
        interval=settings.relay_interval_seconds,
        dedup_window=timedelta(seconds=settings.dedup_window_seconds),
    )

    app = base_app(platform, broker=broker, openapi=gateway_openapi())
    app.add_routes(
        Webhook(settings=settings, intake=intake, metrics=metrics, tenants=tenant_cache).routes()
    )
    app.add_routes(
        TenantApi(
            repository=tenants,
            keys=KeyStore(mongo),
            control=platform.control,
            public_url=common.public_url,
            aes_key_grace=timedelta(seconds=settings.aes_key_grace_seconds),
        ).routes()
    )

    async def prepare(_: web.Application) -> AsyncIterator[None]:
        await _retry_until_reachable(tenants.prepare)
        yield

    # Shutdown runs these in reverse: stop the relay, write the last notes, close the broker,
    # then MongoDB.
    app.cleanup_ctx.append(closing(mongo.close))
    app.cleanup_ctx.append(prepare)
    app.cleanup_ctx.append(background(broker.run))
    app.cleanup_ctx.append(closing(intake.drain))
    app.cleanup_ctx.append(background(marks.run))
    app.cleanup_ctx.append(closing(marks.flush))  # runs first at shutdown: no note is lost
    app.cleanup_ctx.append(background(relay.run))
    return app


async def _retry_until_reachable(step: Callable[[], Awaitable[None]], attempts: int = 30) -> None:
    """Start-up waits for the database (for a while) rather than crash-looping at once."""
    for attempt in range(attempts):
        try:
            await step()
            return
        except UNAVAILABLE:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0)
