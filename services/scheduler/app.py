"""The scheduler's composition root: the only place that builds its clients."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from aiohttp import web

from services.scheduler.api import BroadcastsApi
from services.scheduler.broadcasts import Broadcasts
from services.scheduler.handlers import SchedulerHandlers
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.openapi import PATHS
from services.scheduler.runner import RunWorker
from services.scheduler.schemas import schemas
from services.scheduler.settings import SchedulerSettings
from services.scheduler.store import BroadcastStore
from services.scheduler.timer import DueTimer
from services.scheduler.wechat_calls import MassCalls
from shared.contracts.broadcast_events import BroadcastImpact, SendTimeAdvice
from shared.contracts.messages import WeChatMessage
from shared.platform.consumer_service import consumer_app, tenant_directory
from shared.platform.delivery import Handlers
from shared.platform.openapi import document
from shared.platform.publisher import EventPublisher
from shared.platform.secretbox import SecretBox
from shared.platform.service import Platform
from shared.platform.storage import mongo_client
from shared.platform.tenant_records import TenantSecrets
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.runtime import WeChatRuntime

MAX_BODY = 48 * 1024 * 1024  # a million openids of 28 characters, as JSON


def now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: SchedulerSettings) -> web.Application:
    common = settings.common
    box = SecretBox.from_setting(common.master_key)
    mongo = mongo_client(common.mongodb_url, app_name="wxp-scheduler")
    platform = Platform.build("scheduler", common, mongo=mongo)
    store = BroadcastStore(mongo)
    metrics = SchedulerMetrics.create(platform.registry)
    wechat = WeChatRuntime(
        mongo=mongo,
        box=box,
        base_url=common.wechat_api_base,
        secret_for=TenantSecrets(mongo, box).app_secret,
        metrics=WeChatMetrics.create(platform.registry),
    )
    mass = MassCalls(wechat)
    publisher = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
    worker = RunWorker(
        store=store,
        wechat=mass,
        events=publisher,
        metrics=metrics,
        owner=f"{socket.gethostname()}:{os.getpid()}",  # the log and the claims name it
        claim_seconds=settings.claim_seconds,
        check_after=timedelta(seconds=settings.check_after_seconds),
        now=now,
    )
    timer = DueTimer(
        store,
        worker.look_at,
        metrics,
        scan_seconds=settings.scan_seconds,
        horizon_seconds=settings.horizon_seconds,
        concurrency=settings.concurrency,
        now=now,
    )
    handlers = SchedulerHandlers(store=store, metrics=metrics, look_soon=timer.add, now=now)
    broadcasts = Broadcasts(
        store=store,
        limits=settings.limits,
        max_per_week=settings.max_per_week,
        planned=timer.add,
        now=now,
    )
    api = BroadcastsApi(broadcasts=broadcasts, store=store, wechat=mass, now=now)

    return consumer_app(
        platform,
        settings.consumer,
        handlers=Handlers()
        .on(WeChatMessage, handlers.job_finished)
        .on(SendTimeAdvice, handlers.send_time)
        .on(BroadcastImpact, handlers.impact),
        directory=tenant_directory(platform),
        openapi=document("wxp scheduler", PATHS, schemas(settings.limits)),
        routes=api.routes(),
        on_connect=[publisher.setup],
        resources=[wechat.context, platform.tasks.background(timer.scan, timer.fire)],
        client_max_size=MAX_BODY,
    )
