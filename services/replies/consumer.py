"""The replies service: answers the gateway's passive-reply requests from the tenant's
rules, in time, and sends the same answer through the customer-service API when the
gateway could not wait (``reply.fallback``). Other events are acked."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.replies.api import RulesApi
from services.replies.cache import RuleSetCache
from services.replies.customer_service import QuotaPolicy
from services.replies.fallback import FallbackSender
from services.replies.metrics import ReplyMetrics
from services.replies.openapi import PATHS, SCHEMAS
from services.replies.repository import RuleRepository
from services.replies.spec import inbound_of, reply_spec
from shared.consumer import Delivery
from shared.directory import TenantDirectory
from shared.envelope import REPLY_DEADLINE_HEADER, parse_iso
from shared.publisher import EventPublisher
from shared.runtime import Platform, ServiceParts
from shared.secretbox import SecretBox
from shared.storage import PyMongoError
from shared.tenant_secrets import TenantSecrets
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.runtime import WeChatRuntime

logger = logging.getLogger(__name__)
NO_REPLY: dict[str, Any] = {"type": "none"}


def since(stamp: str) -> float:
    """Seconds from an envelope's ISO time to now."""
    return (datetime.now(UTC) - parse_iso(stamp)).total_seconds()


def deadline_passed(headers: dict[str, object], now_ms: int) -> bool:
    deadline = headers.get(REPLY_DEADLINE_HEADER)
    return not isinstance(deadline, int) or deadline <= now_ms


@dataclass(frozen=True, slots=True)
class ReplyHandler:
    cache: RuleSetCache
    metrics: ReplyMetrics
    rng: random.Random

    async def handle(self, delivery: Delivery) -> None:
        if not delivery.reply_to:
            return
        if deadline_passed(delivery.headers, int(time.time() * 1000)):
            self.metrics.passive.labels("late").inc()
            return
        spec, outcome = await self._answer(delivery)
        self.metrics.passive.labels(outcome).inc()
        await delivery.reply(json.dumps(spec, ensure_ascii=False).encode())
        self.metrics.latency.labels("passive").observe(since(delivery.envelope.received_at))

    async def _answer(self, delivery: Delivery) -> tuple[dict[str, Any], str]:
        event = delivery.envelope
        try:
            rule_set = await self.cache.get(event.tenant_id)
        except (PyMongoError, LookupError) as exc:
            logger.warning("no rules for %s (%s): answering none", event.tenant_id, exc)
            return NO_REPLY, "error"
        answer = rule_set.answer(inbound_of(event), datetime.now(UTC), self.rng)
        if answer is None:
            return NO_REPLY, "none"
        rule, reply = answer
        logger.info("event %s answered by rule %s", event.id, rule.id)
        return {**reply_spec(reply), "rule_id": rule.id}, "rule"


def build(platform: Platform, directory: TenantDirectory) -> ServiceParts:
    common = platform.common
    box = SecretBox.from_setting(common.master_key)  # opens app secrets, seals access tokens
    repository = RuleRepository(platform.mongo)
    cache = RuleSetCache(repository, directory)
    for change in ("rules.changed", "tenant.changed", "tenant.deleted"):
        platform.control.on(change, cache.forget)
    metrics = ReplyMetrics.create(platform.registry)
    rng = random.Random()
    secrets = TenantSecrets(platform.mongo, box)
    wechat = WeChatRuntime(
        mongo=platform.mongo,
        box=box,
        base_url=common.wechat_api_base,
        secret_for=secrets.app_secret,
        metrics=WeChatMetrics.create(platform.registry),
    )
    publisher = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
    passive = ReplyHandler(cache=cache, metrics=metrics, rng=rng)
    fallback = FallbackSender(
        mongo=platform.mongo,
        cache=cache,
        accounts=secrets,
        wechat=wechat,
        publisher=publisher,
        metrics=metrics,
        policy=QuotaPolicy.from_env(),
        rng=rng,
    )

    async def handle(delivery: Delivery) -> None:
        if delivery.envelope.type == "reply.fallback":
            await fallback.handle(delivery)
        else:
            await passive.handle(delivery)

    api = RulesApi(
        repository=repository, cache=cache, directory=directory, control=platform.control
    )
    return ServiceParts(
        handler=handle,
        routes=api.routes(),
        openapi_paths=PATHS,
        openapi_schemas=SCHEMAS,
        on_connect=[publisher.setup],
        contexts=[wechat.context],
    )
