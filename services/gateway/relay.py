"""Publishes the events kept while the broker was away, oldest first, once each.

Runs in every gateway replica. A pass takes kept events in ``seq`` order, claims
each (so two replicas never publish the same one), publishes it with confirms and
only then deletes it. A pass stops at the first failure, so order is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from services.gateway.events import EventStore, RelayClaims
from services.gateway.intake import Intake
from services.gateway.metrics import GatewayMetrics
from shared.bus import Broker, BrokerUnavailable
from shared.publisher import EventPublisher
from shared.storage import PyMongoError

logger = logging.getLogger(__name__)
BATCH = 200
# Nobody waits on the relay, and right after a broker restart quorum queues confirm slowly:
# a short timeout would only publish twice what the broker was about to confirm.
RELAY_CONFIRM_TIMEOUT = 10.0


class Relay:
    def __init__(
        self,
        *,
        intake: Intake,
        store: EventStore,
        claims: RelayClaims,
        publisher: EventPublisher,
        broker: Broker,
        metrics: GatewayMetrics,
        interval: float,
        dedup_window: timedelta,
    ) -> None:
        self._intake = intake
        self._store = store
        self._claims = claims
        self._publisher = publisher
        self._broker = broker
        self._metrics = metrics
        self._interval = interval
        self._dedup_window = dedup_window

    async def run(self) -> None:
        """Relay passes until cancelled: promptly when woken, else every ``interval``."""
        passes = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._intake.wakeup.wait(), self._interval)
            self._intake.wakeup.clear()
            if not self._broker.connected:
                continue
            try:
                await self.run_pass()
                passes += 1
                if passes % 60 == 0:
                    purged = await self._store.purge_seen(self._dedup_window)
                    logger.info("purged %d dedup records", purged)
            except PyMongoError as exc:
                logger.warning("relay pass failed on the database: %s", exc)

    async def run_pass(self) -> None:
        while True:
            kept = await self._store.kept(BATCH)
            self._metrics.backlog.set(len(kept))
            if not kept:
                self._intake.backlog = False
                return
            for doc in kept:
                if not await self._claims.claim(doc["_id"]):
                    return  # another replica is relaying; it keeps the order
                try:
                    await self._publisher.publish_raw(
                        doc["body"],
                        routing_key=doc["routing_key"],
                        message_id=doc["_id"],
                        headers=doc.get("headers") or {},
                        confirm_timeout=RELAY_CONFIRM_TIMEOUT,
                    )
                except BrokerUnavailable as exc:
                    await self._claims.release(doc["_id"])
                    logger.warning("relay paused: %s", exc)
                    return
                await self._store.release(doc["_id"], doc["tenant_id"])
                await self._claims.release(doc["_id"])
                self._metrics.published.labels("relay").inc()
