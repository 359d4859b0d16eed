"""The gateway's composition root: the only place that builds its clients."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web

from services.gateway.api import TenantApi
from services.gateway.breaker import Breaker
from services.gateway.connections import Connections
from services.gateway.console.app import console_app, mount
from services.gateway.console.backend import ServiceUrls
from services.gateway.dedup import DedupStore
from services.gateway.dispatch import Dispatch
from services.gateway.intake import Intake
from services.gateway.keys_api import KeyApi
from services.gateway.marks import PublishedMarks
from services.gateway.metrics import GatewayMetrics
from services.gateway.openapi import gateway_openapi
from services.gateway.outbox import Collections, Outbox
from services.gateway.relay import RELAY_CLAIM_SECONDS, OutboxWatch, Relay
from services.gateway.replays import ReplayGuard
from services.gateway.repository import TenantRepository
from services.gateway.settings import GatewaySettings
from services.gateway.tenant_cache import TenantCache
from services.gateway.webhook import Webhook
from shared.contracts.topology import service_queues
from shared.platform.bus import Broker
from shared.platform.control import TENANT_NOTICES
from shared.platform.edge import GATEWAY_READY
from shared.platform.key_store import KeyStore
from shared.platform.lifecycle import closing
from shared.platform.publisher import EventPublisher
from shared.platform.secretbox import SecretBox
from shared.platform.service import Platform, base_app
from shared.platform.storage import UNAVAILABLE, PyMongoError, mongo_client

logger = logging.getLogger(__name__)


def create_app(settings: GatewaySettings) -> web.Application:
    common = settings.common
    box = SecretBox.from_setting(common.master_key)
    mongo = mongo_client(common.mongodb_url, app_name="wxp-gateway")
    platform = Platform.build("gateway", common, mongo=mongo)
    metrics = GatewayMetrics.create(platform.registry)
    publisher = EventPublisher(
        queues=list(service_queues(settings.queue_prefix).values()),
        confirm_timeout=settings.confirm_timeout_seconds,
    )
    broker = Broker(
        common.amqp_url, name="wxp-gateway", on_connect=[platform.control.setup, publisher.setup]
    )
    tenants = TenantRepository(mongo, box)
    breaker = Breaker()  # shared by the webhook steps that can do without the database
    tenant_cache = TenantCache(tenants, ttl=settings.tenant_cache_seconds, breaker=breaker)
    connections = Connections(tenants)
    for change in TENANT_NOTICES:
        platform.control.on(change, tenant_cache.forget)
    dedup = DedupStore(mongo)
    window = timedelta(seconds=settings.dedup_window_seconds)
    settle = timedelta(seconds=settings.offboarding_settle_seconds)
    marks = PublishedMarks(mongo, window=window)
    replays = ReplayGuard(mongo, tolerance=settings.timestamp_tolerance_seconds, breaker=breaker)
    # A relay claim outlasts a relay's longest wait for a confirm (RELAY_CONFIRM_TIMEOUT,
    # twice): past it, the claim of a replica that died is taken over.
    relay_claims = timedelta(seconds=RELAY_CLAIM_SECONDS)
    collections = Collections.of(mongo)
    outbox = Outbox(collections, replica=replica_name(), claim_for=relay_claims)
    dispatch = Dispatch(publisher=publisher, keeper=outbox, marks=marks, metrics=metrics)
    intake = Intake(
        dedup=dedup,
        marks=marks,
        dispatch=dispatch,
        metrics=metrics,
        reply_deadline=settings.reply_deadline_seconds,
        retry_grace=settings.retry_grace_seconds,
    )

    async def finish_offboarding(tenant_id: str) -> None:
        """An offboarded tenant's database, then each kind of the gateway's records of its
        events whatever the others meet (the first failure raised after); its note last."""
        await tenants.drop_data(tenant_id)
        failures: list[PyMongoError] = []
        for records in (dedup, marks, outbox, replays):
            try:
                await records.forget_tenant(tenant_id)
            except PyMongoError as exc:
                failures.append(exc)
        if failures:
            raise failures[0]
        await tenants.offboarded(tenant_id, now=datetime.now(UTC))

    async def purge() -> int:
        for tenant_id in await tenants.offboarding():  # what an offboarding left
            try:
                await finish_offboarding(tenant_id)
            except PyMongoError as exc:  # the next purge tries again; the slices go anyway
                logger.warning("tenant %s: offboarding not finished: %s", tenant_id, exc)
        try:  # what a consumer wrote late for a tenant just offboarded
            for tenant_id in await tenants.settling(now=datetime.now(UTC), settle=settle):
                await tenants.drop_database(tenant_id)
        except PyMongoError as exc:
            logger.warning("offboarded tenants' databases not dropped again: %s", exc)
        await marks.purge(window)
        await outbox.purge(window)
        await replays.purge()
        return await dedup.purge(window)

    relay = Relay(
        outbox=outbox,
        publisher=publisher,
        backlog=dispatch.backlog,
        metrics=metrics,
        connected=lambda: broker.connected,
        purge=purge,
        interval=settings.relay_interval_seconds,
    )
    watch = OutboxWatch(outbox=collections.outbox, metrics=metrics)

    app = base_app(platform, broker=broker, openapi=gateway_openapi(), ready_when=GATEWAY_READY)
    app.add_routes(
        Webhook(
            settings=settings,
            intake=intake,
            metrics=metrics,
            tenants=tenant_cache,
            replays=replays,
            connections=connections,
        ).routes()
    )
    keys = KeyStore(mongo)
    app.add_routes(
        TenantApi(
            repository=tenants,
            keys=keys,
            control=platform.control,
            public_url=common.public_url,
            aes_key_grace=timedelta(seconds=settings.aes_key_grace_seconds),
            finish_offboarding=finish_offboarding,
        ).routes()
    )
    app.add_routes(KeyApi(repository=tenants, keys=keys, control=platform.control).routes())
    urls = ServiceUrls(
        gateway=f"http://127.0.0.1:{common.port}",
        replies=settings.replies_url,
        scheduler=settings.scheduler_url,
        analytics=settings.analytics_url,
    )
    console = console_app(
        authenticator=platform.authenticator,
        box=box,
        urls=urls,
        secure_cookies=common.public_url.startswith("https://"),
    )
    mount(app, console)

    async def prepare(_: web.Application) -> AsyncIterator[None]:
        await _retry_until_reachable(tenants.prepare)
        yield

    # Shutdown runs these in reverse: stop the relay; finish the reply.sent publishes and
    # late confirms (which add notes); stop the notes writer and write the last notes;
    # close the broker, then MongoDB.
    app.cleanup_ctx.append(closing(mongo.close))
    app.cleanup_ctx.append(prepare)
    app.cleanup_ctx.append(platform.tasks.background(broker.run))
    app.cleanup_ctx.append(closing(marks.flush))
    app.cleanup_ctx.append(platform.tasks.background(marks.run))
    app.cleanup_ctx.append(closing(dispatch.drain))
    app.cleanup_ctx.append(closing(connections.drain))
    app.cleanup_ctx.append(platform.tasks.background(relay.run, watch.run))
    return app


def replica_name() -> str:
    """Who holds a relay claim, in the outbox: this process, unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


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
