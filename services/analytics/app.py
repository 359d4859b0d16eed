"""The analytics composition root: the only place that builds its clients."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.analytics.api import AnalyticsApi
from services.analytics.handlers import Intake
from services.analytics.metrics import AnalyticsMetrics
from services.analytics.openapi import PATHS, SCHEMAS
from services.analytics.rebuild import Rebuild
from services.analytics.refresh import Refresh
from services.analytics.reports import Reports
from services.analytics.settings import AnalyticsSettings
from services.analytics.store import AnalyticsStore
from services.analytics.wechat_api import WeChatDataApi
from services.analytics.wechat_data import WeChatData
from shared.contracts.broadcast_events import BroadcastSubmitted
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplySent
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


def now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: AnalyticsSettings) -> web.Application:
    mongo = mongo_client(settings.common.mongodb_url, app_name="wxp-analytics")
    platform = Platform.build("analytics", settings.common, mongo=mongo)
    directory = tenant_directory(platform)
    store = AnalyticsStore(mongo)
    metrics = AnalyticsMetrics.create(platform.registry)
    intake = Intake(store=store, directory=directory, metrics=metrics, now=now)
    reports = Reports(store=store, raw_days=settings.raw_days, policy=settings.health, now=now)
    publisher = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
    refresh = Refresh(
        store=store,
        reports=reports,
        intake=intake,
        events=publisher,
        metrics=metrics,
        refresh_seconds=settings.refresh_seconds,
        full_seconds=settings.full_refresh_seconds,
    )
    api = AnalyticsApi(
        store=store,
        reports=reports,
        now=now,
        fresh=lambda tenant: tenant in intake.touched,
        rebuilds=Rebuild(store=store, reports=reports, refresh=refresh),
    )
    box = SecretBox.from_setting(settings.common.master_key)
    wechat = WeChatRuntime(
        mongo=mongo,
        box=box,
        base_url=settings.common.wechat_api_base,
        secret_for=TenantSecrets(mongo, box).app_secret,
        metrics=WeChatMetrics.create(platform.registry),
    )
    handlers = (
        Handlers()
        .on(WeChatMessage, intake.take)
        .on(ReplySent, intake.take)
        .on(BroadcastSubmitted, intake.take)
    )
    return consumer_app(
        platform,
        settings.consumer,
        handlers=handlers,
        directory=directory,
        openapi=document("wxp analytics", PATHS, SCHEMAS),
        routes=[*api.routes(), *WeChatDataApi(api, WeChatData(wechat, store, now)).routes()],
        on_connect=[publisher.setup],
        resources=[wechat.context, platform.tasks.background(refresh.run, refresh.fold)],
    )
