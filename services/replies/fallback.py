"""``reply.fallback``: the gateway could not wait for a passive reply, so the answer goes
through the customer-service API, at most once per event.

A unique-key insert in ``replies_sent`` claims the event before anything is sent, so a
redelivery, WeChat's retry or a second replica sends nothing more. What was not sent
is recorded with its reason: outside WeChat's window or quota, a reader who blocked the
account, media WeChat refused. Only a failure that certainly sent nothing is retried.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.replies.cache import RuleSetCache
from services.replies.customer_service import QuotaPolicy, cs_message, refusal
from services.replies.metrics import ReplyMetrics
from services.replies.spec import inbound_of, reply_spec
from shared.consumer import Delivery, Reject
from shared.envelope import Envelope, EnvelopeError, parse_iso, reply_sent
from shared.publisher import EventPublisher
from shared.storage import Client, DuplicateKeyError, tenant_db_name
from shared.tenant_secrets import TenantSecrets
from shared.wechat.errors import RateLimited, Transient, WeChatError
from shared.wechat.runtime import WeChatRuntime

logger = logging.getLogger(__name__)
SENT = "replies_sent"


@dataclass(frozen=True, slots=True)
class FallbackSender:
    mongo: Client
    cache: RuleSetCache
    accounts: TenantSecrets
    wechat: WeChatRuntime
    publisher: EventPublisher
    metrics: ReplyMetrics
    policy: QuotaPolicy
    rng: random.Random

    async def handle(self, delivery: Delivery) -> None:
        try:
            original = Envelope.from_dict(delivery.envelope.payload.get("event"))
        except EnvelopeError as exc:
            raise Reject(f"fallback without its event: {exc}") from None
        now = datetime.now(UTC)
        answer = (await self.cache.get(original.tenant_id)).answer(
            inbound_of(original), now, self.rng
        )
        if answer is None:
            self.metrics.fallback.labels("no_rule").inc()
            return
        rule, reply = answer
        sent = self.mongo[tenant_db_name(original.tenant_id)][SENT]
        record = {
            "_id": original.id,
            "openid": original.openid,
            "rule_id": rule.id,
            "at": now,
            "status": "sending",
        }
        try:
            await sent.insert_one(record)
        except DuplicateKeyError:
            self.metrics.fallback.labels("duplicate").inc()
            return
        status = await self._send(original, reply_spec(reply), sent, now)
        await sent.update_one({"_id": original.id}, {"$set": {"status": status}})
        self.metrics.fallback.labels(status).inc()
        if status == "sent":
            self.metrics.latency.labels("customer_service").observe(
                (now - parse_iso(original.received_at)).total_seconds()
            )
            await self.publisher.publish(
                reply_sent(original, rule_id=rule.id, via="customer_service", at=now)
            )

    async def _send(
        self, original: Envelope, spec: dict[str, Any], sent: Any, now: datetime
    ) -> str:
        already = await sent.count_documents(
            {
                "openid": original.openid,
                "status": "sent",
                "at": {"$gte": parse_iso(original.occurred_at)},
            }
        )
        why_not = refusal(self.policy, original.type, parse_iso(original.occurred_at), now, already)
        if why_not is not None:
            return why_not
        account = await self.accounts.account(original.tenant_id)
        try:
            await self.wechat.send_custom_message(account.appid, cs_message(original.openid, spec))
        except (RateLimited, Transient) as exc:
            if isinstance(exc, Transient) and exc.maybe_delivered:
                return "unknown"  # it may have arrived: never send twice
            await sent.delete_one({"_id": original.id})  # nothing went out: try again later
            raise
        except WeChatError as exc:
            logger.warning("fallback for %s not sent: errcode %s", original.id, exc.errcode)
            return f"refused_{exc.outcome}"
        return "sent"
