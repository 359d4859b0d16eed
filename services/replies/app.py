"""The replies service's composition root: the only place that builds its clients."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from aiohttp import web

from services.replies.api import RulesApi
from services.replies.cache import RuleSetCache
from services.replies.fallback import AtOnce, Fallbacks
from services.replies.handlers import PassiveReplies
from services.replies.inbox_api import InboxApi
from services.replies.inbox_replies import InboxReplies
from services.replies.inbox_store import InboxStore
from services.replies.metrics import ReplyMetrics
from services.replies.openapi import PATHS, SCHEMAS
from services.replies.repository import RuleRepository
from services.replies.retention import Retention, every_tenant
from services.replies.sent import SentStore
from services.replies.settings import RepliesSettings
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplyFallback
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


def create_app(settings: RepliesSettings) -> web.Application:
    common = settings.common
    box = SecretBox.from_setting(common.master_key)  # opens app secrets, seals access tokens
    mongo = mongo_client(common.mongodb_url, app_name="wxp-replies")
    platform = Platform.build("replies", common, mongo=mongo)
    directory = tenant_directory(platform)
    repository = RuleRepository(mongo)
    metrics = ReplyMetrics.create(platform.registry)
    cache = RuleSetCache(repository, directory, clock=time.monotonic, skipped=metrics.rules_skipped)
    for change in ("rules.changed", "tenant.changed", "tenant.deleted"):
        platform.control.on(change, cache.forget)
    rng = random.Random()
    secrets = TenantSecrets(mongo, box)
    wechat = WeChatRuntime(
        mongo=mongo,
        box=box,
        base_url=common.wechat_api_base,
        secret_for=secrets.app_secret,
        metrics=WeChatMetrics.create(platform.registry),
    )
    publisher = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
    inbox = InboxStore(mongo, window=settings.quota.message_window, clock=now)
    sent = SentStore(mongo)
    passive = PassiveReplies(rules=cache, unanswered=inbox, metrics=metrics, rng=rng)
    fallbacks = Fallbacks(
        rules=cache,
        unanswered=inbox,
        sent=sent,
        accounts=secrets,
        wechat=wechat,
        events=publisher,
        metrics=metrics,
        policy=settings.quota,
        rng=rng,
        at_once=AtOnce(settings.fallbacks_at_once),
    )
    api = RulesApi(
        repository=repository,
        cache=cache,
        directory=directory,
        control=platform.control,
        max_rules=settings.max_rules_per_tenant,
    )
    answers = InboxReplies(
        inbox=inbox,
        sent=sent,
        accounts=secrets,
        wechat=wechat,
        timezones=directory,
        events=publisher,
        metrics=metrics,
        policy=settings.quota,
    )
    inbox_api = InboxApi(store=inbox, replies=answers, directory=directory, clock=now)
    retention = Retention(
        tenants=every_tenant(mongo),
        stores={"replies_sent": sent, "replies_inbox": inbox},
        metrics=metrics,
        keep=settings.retention,
        interval=settings.purge_interval_seconds,
    )
    return consumer_app(
        platform,
        settings.consumer,
        handlers=Handlers().on(WeChatMessage, passive.handle).on(ReplyFallback, fallbacks.handle),
        directory=directory,
        openapi=document("wxp replies", PATHS, SCHEMAS),
        routes=[*api.routes(), *inbox_api.routes()],
        on_connect=[publisher.setup],
        resources=[wechat.context, platform.tasks.background(retention.run)],
    )
