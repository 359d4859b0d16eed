"""WeChat's rate limit on a fallback, through the real broker and database: the message
waits out the queue's retry delay instead of coming straight back, then is sent once."""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import pytest
from prometheus_client import CollectorRegistry

from services.replies.customer_service import QuotaPolicy
from services.replies.fallback import Fallbacks
from services.replies.matching import RuleSet
from services.replies.metrics import ReplyMetrics
from services.replies.sent import COLLECTION, SentStore
from services.replies.validation import validate_rule
from shared.contracts.reply_events import ReplyFallback, fallback_of
from shared.contracts.topology import EVENTS_EXCHANGE, QueueSpec
from shared.platform.consumer import Consumer
from shared.platform.delivery import Handlers
from shared.platform.metrics import ConsumerMetrics
from shared.platform.storage import Client
from shared.wechat.errors import RateLimited
from tests.support.bus import delete_queue_and_twins, stays_true, wait_until
from tests.support.fakes import FakeAccounts, FakeEventSink, FakeRuleSource, FakeUnanswered, message

RETRY_DELAY = 1.0
RULE = {
    "id": "r-price",
    "name": "price",
    "priority": 1,
    "enabled": True,
    "trigger": {"kind": "keyword", "match": "exact", "pattern": "price"},
    "reply": {"type": "text", "content": "10 yuan"},
}


@dataclass
class RateLimitedOnce:
    """The customer-service API: its first call hits the minute quota (45011)."""

    calls: list[float] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)

    async def send_custom_message(self, appid: str, payload: dict[str, Any]) -> Any:
        self.calls.append(time.monotonic())
        if len(self.calls) == 1:
            raise RateLimited(45011, "api minute quota reached")
        self.delivered.append(payload)
        return {"errcode": 0}


@pytest.fixture
async def tenant(mongo: Client) -> AsyncIterator[str]:
    tenant_id = f"tre{secrets.token_hex(4)}"
    yield tenant_id
    await mongo.drop_database(f"wxp_t_{tenant_id}")


async def test_a_rate_limited_fallback_is_retried_after_the_delay_and_sent_once(
    amqp, mongo: Client, tenant: str
) -> None:
    wechat = RateLimitedOnce()
    rules = RuleSet.compile([validate_rule(RULE)], tz=ZoneInfo("Asia/Shanghai"))
    fallbacks = Fallbacks(
        rules=FakeRuleSource(sets={tenant: rules}),
        unanswered=FakeUnanswered(),
        sent=SentStore(mongo),
        accounts=FakeAccounts(),
        wechat=wechat,
        events=FakeEventSink(),
        metrics=ReplyMetrics.create(CollectorRegistry()),
        policy=QuotaPolicy(),
        rng=random.Random(1),
    )
    spec = QueueSpec(f"cons.{tenant}", (f"{tenant}.reply.fallback",), retry_delay=RETRY_DELAY)
    metrics = ConsumerMetrics.create(CollectorRegistry())
    consumer = Consumer(spec, Handlers().on(ReplyFallback, fallbacks.handle), metrics=metrics)
    await consumer.setup(amqp)
    event = message("m1", tenant=tenant)
    envelope = fallback_of(event, "deadline", now=datetime.now(UTC))
    channel = await amqp.channel(publisher_confirms=True)
    try:
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(envelope.to_bytes(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            envelope.routing_key,
            mandatory=True,
        )
        await wait_until(lambda: len(wechat.calls) == 1, timeout=10)
        await stays_true(lambda: len(wechat.calls) == 1, seconds=RETRY_DELAY * 0.8, what="1 call")
        await wait_until(lambda: len(wechat.delivered) == 1, timeout=15)

        [gap] = [later - earlier for earlier, later in itertools.pairwise(wechat.calls)]
        assert gap >= RETRY_DELAY * 0.9
        doc = await mongo[f"wxp_t_{tenant}"][COLLECTION].find_one({"_id": event.id})
        assert doc is not None
        assert doc["status"] == "sent"
        assert metrics.messages.labels(spec.name, "retry")._value.get() == 1
        await stays_true(lambda: len(wechat.calls) == 2, seconds=RETRY_DELAY * 1.5, what="sent")
    finally:
        await consumer.stop(1)
        await channel.close()
        await delete_queue_and_twins(amqp, spec)
