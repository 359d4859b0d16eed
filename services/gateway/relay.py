"""Publishes the events kept while the broker was away, oldest first, once each.

Runs in every gateway replica. A pass takes kept events in ``seq`` order, claims
each (one conditional update: only an event still kept and unclaimed can be claimed,
so two replicas never publish the same one), publishes it with confirms and only then
releases it. A pass stops at the first event it cannot claim or publish, so order is
kept.

``OutboxWatch`` reads how many events wait and how old the oldest is, for the gauges,
every ``OUTBOX_WATCH_SECONDS`` whether or not the broker is connected: the relay makes no
pass while it is not, which is when events pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.gateway.dispatch import Backlog
from services.gateway.metrics import GatewayMetrics
from services.gateway.outbox import Collection, Kept
from services.gateway.ports import Outbox, Publisher
from shared.platform.bus import BrokerUnavailable
from shared.platform.publisher import ConfirmPending
from shared.platform.storage import PyMongoError
from shared.platform.supervision import idle, stopping

logger = logging.getLogger(__name__)
BATCH = 200
CLAIM_BATCH = 50  # claimed in one insert, released in one update
PURGE_EVERY = 60  # passes
# Nobody waits on the relay, and right after a broker restart quorum queues confirm slowly:
# a short timeout would only publish twice what the broker was about to confirm.
RELAY_CONFIRM_TIMEOUT = 10.0
# How long a relay claim lasts. A replica that dies holding claims delays the others this
# long; a relay stops publishing a claimed batch before its claims could expire.
RELAY_CLAIM_SECONDS = 45.0
OUTBOX_WATCH_SECONDS = 10.0


@dataclass(slots=True)
class Relay:
    outbox: Outbox
    publisher: Publisher
    backlog: Backlog
    metrics: GatewayMetrics
    connected: Callable[[], bool]
    purge: Callable[[], Awaitable[int]]  # forgets records past the dedup window; slices gone
    interval: float
    confirm_timeout: float = RELAY_CONFIRM_TIMEOUT
    claim_for: float = RELAY_CLAIM_SECONDS  # as the outbox's claims last
    # Published and confirmed, but their release failed on the database (it went away
    # mid-pass): released first at the next pass, while this replica's claims still keep
    # the others from publishing them again.
    unreleased: dict[str, str] = field(default_factory=dict)

    async def run(self) -> None:
        """Relay passes until cancelled: promptly when woken, else every ``interval``."""
        passes = 0
        while True:
            await idle(self.interval, self.backlog.wakeup)
            self.backlog.wakeup.clear()
            if not self.connected():
                continue
            try:
                await self.run_pass()
                passes += 1
                if passes % PURGE_EVERY == 0:
                    logger.info("purged %d slices of dedup records", await self.purge())
            except PyMongoError as exc:
                if stopping():
                    raise
                logger.warning("relay pass failed on the database: %s", exc)

    async def run_pass(self) -> None:
        if self.unreleased:
            await self._release()
        while True:
            kept_before = self.backlog.kept
            kept = await self.outbox.kept(BATCH)
            if not kept:
                if self.backlog.clear_if_unchanged(kept_before) or self.backlog.keeping:
                    return  # empty; or a keep is under way, and its end wakes the relay
                continue  # something was kept while the outbox was read: read again
            for start in range(0, len(kept), CLAIM_BATCH):
                if not await self._relay(kept[start : start + CLAIM_BATCH]):
                    return

    async def _relay(self, chunk: list[Kept]) -> bool:
        """Claims ``chunk``, publishes what it holds in order, releases what the broker
        confirmed. False when the pass must stop there (to keep the order)."""
        claimed_at = time.monotonic()
        claimed = await self.outbox.claim([event.event_id for event in chunk])
        held = dict.fromkeys(claimed.event_ids)
        published: list[Kept] = []
        try:
            for event in (event for event in chunk if event.event_id in held):
                # the longest one publish can take (a late confirm) must end within the claim
                if time.monotonic() - claimed_at + 2 * self.confirm_timeout >= self.claim_for:
                    return False  # a slow broker: let the rest go and claim afresh
                del held[event.event_id]
                if not await self._publish(event):
                    return False
                published.append(event)
        finally:
            try:
                if published:
                    self.metrics.published.labels("relay").inc(len(published))
                    self.unreleased.update({e.event_id: e.tenant_id for e in published})
                    await self._release()
            finally:
                if held:  # claimed, not tried: any replica may take them next
                    await self.outbox.unclaim(list(held))
        return not claimed.stopped

    async def _release(self) -> None:
        """The published events out of the outbox; kept in ``unreleased`` until that
        succeeds."""
        await self.outbox.release(self.unreleased)
        self.unreleased.clear()

    async def _publish(self, event: Kept) -> bool:
        try:
            await self.publisher.publish_raw(
                event.body,
                routing_key=event.routing_key,
                message_id=event.event_id,
                headers=event.headers,
                confirm_timeout=self.confirm_timeout,
            )
        except ConfirmPending as pending:
            # Perhaps on the bus after all: the claim stays (it expires), so nobody
            # publishes it again while that is unknown; a late confirm releases it.
            logger.warning("relay paused: %s", pending)
            with contextlib.suppress(BrokerUnavailable, TimeoutError):
                await asyncio.wait_for(asyncio.shield(pending.confirm), self.confirm_timeout)
                return True
            return False
        except BrokerUnavailable as exc:
            await self.outbox.unclaim([event.event_id])
            logger.warning("relay paused: %s", exc)
            return False
        return True


def oldest_age(oldest_seq: int | None, now: float) -> float:
    """Seconds since the oldest kept event was kept (its ``seq``: nanoseconds since the
    epoch, by the keeping replica's clock) at ``now`` (seconds since the epoch); 0 when
    nothing is kept, and never below 0 (replicas' clocks differ a little)."""
    if oldest_seq is None:
        return 0.0
    return max(now - oldest_seq / 1e9, 0.0)


@dataclass(frozen=True, slots=True)
class OutboxWatch:
    """Sets the outbox gauges every ``interval``. A read is one sorted, limited find of the
    oldest ``seq`` and, only when something is kept, a count (``estimated_document_count``:
    collection metadata on MongoDB). While the database does not answer, the gauges keep
    the last values read."""

    outbox: Collection
    metrics: GatewayMetrics
    interval: float = OUTBOX_WATCH_SECONDS
    clock: Callable[[], float] = time.time

    async def run(self) -> None:
        """Reads until cancelled."""
        while True:
            try:
                await self.read()
            except PyMongoError as exc:
                if stopping():
                    raise
                logger.warning("outbox gauges not updated: %s", exc)
            await idle(self.interval)

    async def read(self) -> None:
        oldest = await self.outbox.find_one({}, projection={"seq": 1}, sort=[("seq", 1)])
        count = 0 if oldest is None else await self.outbox.estimated_document_count()
        now = self.clock()
        self.metrics.backlog.set(count)
        self.metrics.oldest.set(oldest_age(None if oldest is None else int(oldest["seq"]), now))
