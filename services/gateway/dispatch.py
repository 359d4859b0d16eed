"""Getting an accepted event onto the bus: published with the broker's confirm, or kept
in the outbox for the relay when the broker does not confirm. Once anything is kept, new
events queue behind it (through the relay), so each reader's order holds."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.gateway.bounded import Bounded, DatabaseSlow
from services.gateway.metrics import GatewayMetrics
from services.gateway.ports import Keeper, Marks, Publisher
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer
from shared.contracts.reply_events import fallback_of, reply_sent
from shared.platform.bus import BrokerUnavailable

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Backlog:
    """Events are kept: new ones go after them, through the relay."""

    active: bool = False
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class Dispatch:
    publisher: Publisher
    keeper: Keeper
    marks: Marks
    metrics: GatewayMetrics
    bounded: Bounded = field(default_factory=Bounded)
    backlog: Backlog = field(default_factory=Backlog)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def publish(self, event: Envelope[Any], **reply_request: Any) -> None:
        """Publishes and waits for the confirm; raises BrokerUnavailable."""
        started = time.perf_counter()
        await self.publisher.publish(event, **reply_request)
        self.metrics.publish_latency.observe(time.perf_counter() - started)
        self.metrics.published.labels("direct").inc()

    async def publish_or_keep(self, event: Envelope[Any]) -> None:
        if not self.backlog.active:
            try:
                await self.publish(event)
            except BrokerUnavailable as exc:
                logger.warning("keeping %s for the relay: %s", event.id, exc)
            else:
                self.marks.add(event.id, event.tenant_id)
                return
        await self.keep(event)

    async def keep(self, event: Envelope[Any]) -> None:
        """Into the outbox; raises BrokerUnavailable when the database does not take it."""
        try:
            await self.bounded(self.keeper.keep(event))
        except DatabaseSlow as exc:
            raise BrokerUnavailable(f"neither broker nor database took {event.id}: {exc}") from exc
        self.metrics.kept.inc()
        self.backlog.active = True  # from here on the relay publishes, in order
        self.backlog.wakeup.set()

    async def fall_back(self, event: Envelope[WeChatMessage], reason: str) -> None:
        """``reply.fallback``: replies answers ``event`` through the customer-service API."""
        self.metrics.replies.labels("fallback").inc()
        await self.publish_or_keep(fallback_of(event, reason, now=datetime.now(UTC)))

    def replied(self, event: Envelope[WeChatMessage], answer: PassiveAnswer) -> None:
        """The passive reply went back to WeChat: say so on the bus (off the request path)."""
        if answer.rule_id is None:
            return
        sent = reply_sent(event, rule_id=answer.rule_id, via="passive", at=datetime.now(UTC))
        task = asyncio.ensure_future(self.publish_or_keep(sent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Waits for the reply.sent events still being published (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
