"""The analytics composition root: the only place that builds its clients."""

from __future__ import annotations

from aiohttp import web

from services.analytics.handlers import reply_sent, wechat_event
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplySent
from shared.platform.consumer_service import consumer_app, tenant_directory
from shared.platform.delivery import Handlers
from shared.platform.openapi import document
from shared.platform.service import Platform
from shared.platform.settings import ConsumerSettings
from shared.platform.storage import mongo_client


def create_app(settings: ConsumerSettings) -> web.Application:
    mongo = mongo_client(settings.common.mongodb_url, app_name="wxp-analytics")
    platform = Platform.build("analytics", settings.common, mongo=mongo)
    handlers = Handlers().on(WeChatMessage, wechat_event).on(ReplySent, reply_sent)
    return consumer_app(
        platform,
        settings,
        handlers=handlers,
        directory=tenant_directory(platform),
        openapi=document("wxp analytics", {}),
    )
