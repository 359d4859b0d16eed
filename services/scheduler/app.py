"""The scheduler's composition root: the only place that builds its clients."""

from __future__ import annotations

from aiohttp import web

from services.scheduler.handlers import job_finished
from shared.contracts.messages import WeChatMessage
from shared.platform.consumer_service import consumer_app, tenant_directory
from shared.platform.delivery import Handlers
from shared.platform.openapi import document
from shared.platform.service import Platform
from shared.platform.settings import ConsumerSettings
from shared.platform.storage import mongo_client


def create_app(settings: ConsumerSettings) -> web.Application:
    mongo = mongo_client(settings.common.mongodb_url, app_name="wxp-scheduler")
    platform = Platform.build("scheduler", settings.common, mongo=mongo)
    return consumer_app(
        platform,
        settings,
        handlers=Handlers().on(WeChatMessage, job_finished),
        directory=tenant_directory(platform),
        openapi=document("wxp scheduler", {}),
    )
