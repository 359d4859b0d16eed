"""Publishes the events kept while the broker was away, oldest first, once each.

Runs in every gateway replica. A pass takes kept events in ``seq`` order, claims
each (so two replicas never publish the same one), publishes it with confirms and
only then releases it. A pass stops at the first failure, so order is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.gateway.dispatch import Backlog
from services.gateway.metrics import GatewayMetrics
from services.gateway.ports import Marks, Outbox, Publisher
from shared.platform.bus import BrokerUnavailable
from shared.platform.storage import PyMongoError

logger = logging.getLogger(__name__)
BATCH = 200
PURGE_EVERY = 60  # passes
# Nobody waits on the relay, and right after a broker restart quorum queues confirm slowly:
# a short timeout would only publish twice what the broker was about to confirm.
RELAY_CONFIRM_TIMEOUT = 10.0


@dataclass(slots=True)
class Relay:
    outbox: Outbox
    publisher: Publisher
    marks: Marks
    backlog: Backlog
    metrics: GatewayMetrics
    connected: Callable[[], bool]
    purge: Callable[[], Awaitable[int]]  # forgets records older than the dedup window
    interval: float

    async def run(self) -> None:
        """Relay passes until cancelled: promptly when woken, else every ``interval``."""
        passes = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.backlog.wakeup.wait(), self.interval)
            self.backlog.wakeup.clear()
            if not self.connected():
                continue
            try:
                await self.run_pass()
                passes += 1
                if passes % PURGE_EVERY == 0:
                    logger.info("purged %d dedup records", await self.purge())
            except PyMongoError as exc:
                logger.warning("relay pass failed on the database: %s", exc)

    async def run_pass(self) -> None:
        while True:
            kept = await self.outbox.kept(BATCH)
            self.metrics.backlog.set(len(kept))
            if not kept:
                self.backlog.active = False
                return
            for event in kept:
                if not await self.outbox.claim(event.event_id):
                    return  # another replica is relaying; it keeps the order
                try:
                    await self.publisher.publish_raw(
                        event.body,
                        routing_key=event.routing_key,
                        message_id=event.event_id,
                        headers=event.headers,
                        confirm_timeout=RELAY_CONFIRM_TIMEOUT,
                    )
                except BrokerUnavailable as exc:
                    await self.outbox.unclaim(event.event_id)
                    logger.warning("relay paused: %s", exc)
                    return
                await self.outbox.release(event.event_id)
                self.marks.add(event.event_id, event.tenant_id)
                self.metrics.published.labels("relay").inc()
