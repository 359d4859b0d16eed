"""The fallback's claims in the real database (``replies_sent`` on FerretDB): two handlers,
as two replicas, racing for a reader's last message or for a stale claim, never both send,
and every fallback ends sent, refused or unknown. WeChat is the in-memory fake."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from services.replies.claims import CHECKING, Claim, stamp
from services.replies.customer_service import QuotaPolicy
from services.replies.fallback import Fallbacks
from services.replies.matching import RuleSet
from services.replies.metrics import ReplyMetrics
from services.replies.sent import COLLECTION, SentStore
from services.replies.validation import validate_rule
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplyFallback, fallback_of
from shared.platform.delivery import Delivery, RetryLater
from shared.platform.storage import Client
from tests.support.fakes import FakeAccounts, FakeEventSink, FakeRuleSource, FakeUnanswered

RULE = {
    "id": "r-price",
    "name": "price",
    "priority": 1,
    "enabled": True,
    "trigger": {"kind": "keyword", "match": "contains", "pattern": "price"},
    "reply": {"type": "text", "content": "10 yuan"},
}
FINAL = {"sent", "unknown", "outside_window", "quota_exhausted", "gave_up"}


@dataclass
class SlowWeChat:
    """The customer-service API, taking a moment per call so that sends overlap."""

    delivered: list[dict[str, Any]] = field(default_factory=list)

    async def send_custom_message(self, appid: str, payload: dict[str, Any]) -> Any:
        await asyncio.sleep(0.05)
        self.delivered.append(payload)
        return {"errcode": 0}


@pytest.fixture
async def tenant(mongo: Client) -> AsyncIterator[str]:
    tenant_id = f"tfb{secrets.token_hex(4)}"
    yield tenant_id
    await mongo.drop_database(f"wxp_t_{tenant_id}")


def replica(tenant_id: str, mongo: Client, wechat: SlowWeChat, policy: QuotaPolicy) -> Fallbacks:
    """One replica's fallback handler, over the real ``replies_sent``."""
    rules = RuleSet.compile([validate_rule(RULE)], tz=ZoneInfo("Asia/Shanghai"))
    return Fallbacks(
        rules=FakeRuleSource(sets={tenant_id: rules}),
        unanswered=FakeUnanswered(),
        sent=SentStore(mongo),
        accounts=FakeAccounts(),
        wechat=wechat,
        events=FakeEventSink(),
        metrics=ReplyMetrics.create(CollectorRegistry()),
        policy=policy,
        rng=random.Random(1),
    )


def fallback(tenant_id: str, event_id: str, openid: str) -> Delivery[ReplyFallback]:
    at = datetime.now(UTC) - timedelta(minutes=1)
    payload = WeChatMessage(account="gh_x", fields={"content": "price?"})
    event = Envelope(event_id, tenant_id, "msg.text", iso(at), iso(at), openid, payload)
    return Delivery(fallback_of(event, "deadline", now=datetime.now(UTC)))


async def settle(handler: Fallbacks, delivery: Delivery[ReplyFallback]) -> None:
    """Handles ``delivery`` as the queue does, again after each RetryLater (sooner here)."""
    for _ in range(50):
        try:
            await handler.handle(delivery)
        except RetryLater:
            await asyncio.sleep(0.05)
            continue
        return
    raise AssertionError("still retrying")


async def statuses(mongo: Client, tenant_id: str) -> dict[str, str]:
    docs = mongo[f"wxp_t_{tenant_id}"][COLLECTION].find({})
    return {doc["_id"]: doc["status"] async for doc in docs}


@pytest.mark.parametrize("round_", range(6))
async def test_two_replicas_racing_for_the_readers_last_message_send_it_once(
    mongo: Client, tenant: str, round_: int
) -> None:
    wechat = SlowWeChat()
    policy = QuotaPolicy(message_limit=1)
    a, b = replica(tenant, mongo, wechat, policy), replica(tenant, mongo, wechat, policy)
    openid = f"o{secrets.token_hex(3)}"

    await asyncio.gather(
        settle(a, fallback(tenant, f"e1{openid}", openid)),
        settle(b, fallback(tenant, f"e2{openid}", openid)),
    )

    assert len(wechat.delivered) == 1
    assert sorted((await statuses(mongo, tenant)).values()) == ["quota_exhausted", "sent"]


async def test_two_replicas_finding_the_same_stale_claim_take_it_over_once(
    mongo: Client, tenant: str
) -> None:
    wechat = SlowWeChat()
    a, b = (replica(tenant, mongo, wechat, QuotaPolicy()) for _ in range(2))
    stale = Claim("e1", 0, "o1", "r-price", stamp(datetime.now(UTC) - timedelta(minutes=1)))
    assert await SentStore(mongo).insert(tenant, stale)  # its holder died before calling
    delivery = fallback(tenant, "e1", "o1")

    await asyncio.gather(settle(a, delivery), settle(b, delivery))

    assert len(wechat.delivered) == 1
    assert await statuses(mongo, tenant) == {"e1": "abandoned", "e1~1": "sent"}


async def test_a_claim_stored_before_claims_had_stages_ends_unknown_once_stale(
    mongo: Client, tenant: str
) -> None:
    wechat = SlowWeChat()
    legacy = {
        "_id": "e1",
        "openid": "o1",
        "rule_id": "r-price",
        "at": datetime.now(UTC) - timedelta(minutes=1),
        "status": "sending",
    }
    await mongo[f"wxp_t_{tenant}"][COLLECTION].insert_one(legacy)

    await replica(tenant, mongo, wechat, QuotaPolicy()).handle(fallback(tenant, "e1", "o1"))

    assert wechat.delivered == []  # it may have been sent by the version that claimed it
    assert await statuses(mongo, tenant) == {"e1": "unknown"}


async def test_many_fallbacks_over_two_replicas_all_end_and_respect_the_quota(
    mongo: Client, tenant: str
) -> None:
    wechat = SlowWeChat()
    policy = QuotaPolicy(message_limit=2)
    a, b = replica(tenant, mongo, wechat, policy), replica(tenant, mongo, wechat, policy)
    readers = [f"o{n}{secrets.token_hex(2)}" for n in range(3)]
    deliveries = [fallback(tenant, f"e{n}-{r}", r) for r in readers for n in range(4)]

    await asyncio.gather(
        *(settle(a if n % 2 else b, d) for n, d in enumerate(deliveries)),
        *(settle(b if n % 2 else a, d) for n, d in enumerate(deliveries)),  # each twice
    )

    found = await statuses(mongo, tenant)
    assert set(found.values()) <= FINAL
    assert len(found) == len(deliveries)
    for reader in readers:
        assert sum(1 for body in wechat.delivered if body["touser"] == reader) == 2
    assert sorted(found.values()).count("sent") == 6
    assert CHECKING not in found.values()
