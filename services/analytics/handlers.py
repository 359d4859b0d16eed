"""What analytics takes off its queue: every message and event, the platform's reply
receipts and broadcast submissions. Each becomes one fact, through the inbox, in the
tenant's raw log (a redelivery is a duplicate insert and counts nothing); a submitted
broadcast also asks for
its impact to be measured 24 hours later. The tenants touched are remembered, so the
periodic refresh recomputes only what changed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.analytics.facts import BROADCAST, fact_of
from services.analytics.metrics import AnalyticsMetrics
from services.analytics.store import AnalyticsStore
from shared.contracts.envelope import parse_iso
from shared.platform.delivery import Delivery, Reject
from shared.platform.directory import TenantDirectory

logger = logging.getLogger(__name__)
IMPACT_AFTER = timedelta(hours=24)


@dataclass
class Intake:
    store: AnalyticsStore
    directory: TenantDirectory
    metrics: AnalyticsMetrics
    now: Callable[[], datetime]
    touched: set[str] = field(default_factory=set)

    async def take(self, delivery: Delivery[Any]) -> None:
        envelope = delivery.envelope
        try:
            timezone = await self.directory.timezone(envelope.tenant_id)
        except LookupError:
            return  # offboarded since it was published: nothing to count it for
        try:
            fact = fact_of(envelope, timezone)
        except ValueError as exc:  # an occurred_at that is not a time: it never will be
            raise Reject(f"cannot count {envelope.id}: {exc}") from exc
        if fact is None:
            return
        await self.store.record(envelope.tenant_id, fact)
        self.touched.add(envelope.tenant_id)
        if fact.kind == BROADCAST:
            key = f"{envelope.tenant_id}/{fact.broadcast_id}/{fact.run_id}"
            await self.store.expect_impact(key, envelope.tenant_id, fact, fact.at + IMPACT_AFTER)
        received = parse_iso(envelope.received_at).timestamp()
        self.metrics.lag.set(max(0.0, self.now().timestamp() - received))
