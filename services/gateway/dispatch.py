"""Getting an accepted event onto the bus: published with the broker's confirm, or kept
in the outbox for the relay when the broker does not confirm. Once anything is kept, new
events queue behind it (through the relay), so each reader's order holds.

The events published in one turn of the event loop go together, one bundle of each type
(``shared/contracts/bundle.py``), each bundle with one confirm; an event alone in its turn
goes alone. Nothing waits to gather them: under load, the requests whose dedup records
went in one insert are released in one turn, and publish together. Each request then
goes on as if it had published alone: confirmed, refused, or with the bundle's late
confirm to hold its event by. Events of one turn were concurrent requests, among which
no order was ever promised; those of one type keep the order they came in.

The ``reply.sent`` receipts of passive replies go off the request path, gathered for
``RECEIPT_LINGER`` into one bundle (``shared/contracts/bundle.py``): one quorum-queue
message and one delivery to analytics for many receipts, where each used to cost as much
as the reader's message itself. A bundle the broker does not confirm goes again one
receipt at a time, through the outbox when it must; analytics counts a receipt once
whichever way it came."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.gateway.bounded import Bounded, DatabaseSlow
from services.gateway.metrics import GatewayMetrics
from services.gateway.ports import Marks, Outbox, Publisher
from shared.contracts.bundle import ReplyAsk
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer
from shared.contracts.reply_events import ReplySent, fallback_of, reply_sent
from shared.platform.bus import BrokerUnavailable
from shared.platform.publisher import ConfirmPending

logger = logging.getLogger(__name__)
# How long a late confirm is still awaited; the hold on its kept event lasts as long.
LATE_CONFIRM_WAIT = 10.0
# How long passive receipts gather before they go as one bundle (off the request path; a
# gateway that dies holds at most this much of them), and the most one bundle carries.
RECEIPT_LINGER = 0.02
MAX_RECEIPTS = 256
# Events of one type in one bundle, at most (about 14 come in a turn at 1,000 texts or
# 2,000 VIEW events a second). A consumer's prefetch counts messages, so this bounds what
# one may hold: analytics' 1,024 bundles of 32 decoded are about 100 MB at worst.
MAX_GATHERED = 32


@dataclass(slots=True)
class Backlog:
    """Events are kept: new ones go after them, through the relay.

    Only the relay clears ``active``, after a read of the outbox found it empty, and only
    when no event was being kept while it read: an empty answer to a query that began
    before a keep ended says nothing about that event.
    """

    active: bool = False  # kept events wait in the outbox
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    keeping: int = 0  # keeps in flight
    kept: int = 0  # keeps ended, ever

    @property
    def queuing(self) -> bool:
        """New events go to the outbox, behind those kept or being kept."""
        return self.active or self.keeping > 0

    def keep_started(self) -> None:
        self.keeping += 1

    def keep_ended(self, *, kept: bool) -> None:
        self.keeping -= 1
        self.kept += 1
        if kept:
            self.active = True  # from here on the relay publishes, in order
        self.wakeup.set()

    def clear_if_unchanged(self, kept_before_read: int) -> bool:
        """After an empty read that began when ``kept`` was ``kept_before_read``."""
        if self.keeping or self.kept != kept_before_read:
            return False
        self.active = False
        return True


@dataclass(slots=True)
class Dispatch:
    publisher: Publisher
    keeper: Outbox
    marks: Marks
    metrics: GatewayMetrics
    bounded: Bounded = field(default_factory=Bounded)
    backlog: Backlog = field(default_factory=Backlog)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _receipts: list[Envelope[ReplySent]] = field(default_factory=list)
    _gathering: bool = False  # a task is sending the receipts
    _turn: list[Gathered] = field(default_factory=list)  # published in this turn, so far

    async def publish(self, event: Envelope[Any], ask: ReplyAsk | None = None) -> None:
        """Publishes (with this turn's others) and waits for the confirm; raises
        BrokerUnavailable. With ``ask``, the answer comes to the publisher's reply-to."""
        gathered = Gathered(event, ask, asyncio.get_running_loop().create_future())
        if not self._turn:
            asyncio.get_running_loop().call_soon(self._publish_turn)
        self._turn.append(gathered)
        await self._confirmed_publish(gathered.confirmed, events=1)

    def _publish_turn(self) -> None:
        """At the end of the turn: one publish for each type's events (MAX_GATHERED at
        most), each settling its events' futures."""
        turn, self._turn = self._turn, []
        by_type: dict[str, list[Gathered]] = {}
        for gathered in turn:
            by_type.setdefault(gathered.event.type, []).append(gathered)
        for events in by_type.values():
            for start in range(0, len(events), MAX_GATHERED):
                self._watch(self._publish_together(events[start : start + MAX_GATHERED]))

    async def _publish_together(self, events: list[Gathered]) -> None:
        """Publishes ``events`` (alone, or as a bundle) and tells each how it went: every
        error reaches each of them (a ConfirmPending too: each holds its event by it)."""
        self.metrics.events_per_message.observe(len(events))
        waiting = [gathered.confirmed for gathered in events]  # a done one: its request left
        try:
            if len(events) > 1:
                await self.publisher.publish_bundle(
                    [gathered.event for gathered in events],
                    [gathered.ask for gathered in events],
                )
            elif (ask := events[0].ask) is not None:
                await self.publisher.publish(
                    events[0].event, headers=ask.headers(), correlation_id=ask.correlation_id
                )
            else:
                await self.publisher.publish(events[0].event)
        except Exception as exc:
            for confirmed in waiting:
                if not confirmed.done():
                    confirmed.set_exception(exc)
        except BaseException:  # cancelled at shutdown: each request hears it
            for confirmed in waiting:
                confirmed.cancel()
            raise
        else:
            for confirmed in waiting:
                if not confirmed.done():
                    confirmed.set_result(None)

    async def _confirmed_publish(self, publishing: Awaitable[None], *, events: int) -> None:
        """Awaits ``publishing`` (a publish and its confirm), timed and counted."""
        started = time.perf_counter()
        await publishing
        self.metrics.publish_latency.observe(time.perf_counter() - started)
        self.metrics.child(self.metrics.published, "direct").inc(events)

    async def publish_or_keep(self, event: Envelope[Any]) -> None:
        if not self.backlog.queuing:
            try:
                await self.publish(event)
            except ConfirmPending as pending:
                await self.keep(event, pending=pending)
                return
            except BrokerUnavailable as exc:
                logger.warning("keeping %s for the relay: %s", event.id, exc)
            else:
                self._mark(event)
                return
        await self.keep(event)

    async def keep(self, event: Envelope[Any], *, pending: ConfirmPending | None = None) -> None:
        """Into the outbox; raises BrokerUnavailable when the database does not take it.

        With ``pending`` (a publish whose confirm is late) the event is kept held by this
        replica until that confirm settles: confirmed, it is released as published; refused
        or never, the hold ends and the relay publishes it."""
        hold = 0.0 if pending is None else 2 * LATE_CONFIRM_WAIT  # outlasts the wait below
        kept = False
        self.backlog.keep_started()
        try:
            await self.bounded(self.keeper.keep(event, hold=hold))
            kept = True
        except DatabaseSlow as exc:
            if pending is not None:
                self._watch(self._note_if_confirmed(event, pending))
            raise BrokerUnavailable(f"neither broker nor database took {event.id}: {exc}") from exc
        finally:
            self.backlog.keep_ended(kept=kept)
        self.metrics.kept.inc()
        if pending is not None:
            logger.warning("confirm of %s is late; holding it in the outbox", event.id)
            self._watch(self._settle(event, pending))

    async def _settle(self, event: Envelope[Any], pending: ConfirmPending) -> None:
        if await self._confirmed(pending):
            await self.keeper.release({event.id: event.tenant_id})
            self.metrics.published.labels("late_confirm").inc()
        else:
            await self.keeper.unclaim([event.id])  # never confirmed: the relay publishes it
        self.backlog.wakeup.set()

    async def _note_if_confirmed(self, event: Envelope[Any], pending: ConfirmPending) -> None:
        if await self._confirmed(pending):
            self._mark(event)

    def _mark(self, event: Envelope[Any]) -> None:
        """Notes a published event for WeChat's retries of it; the platform's own events
        (``reply.sent``, ``reply.fallback``) are never retried by WeChat: no note."""
        if isinstance(event.payload, WeChatMessage):
            self.marks.add(event.id, event.tenant_id)

    @staticmethod
    async def _confirmed(pending: ConfirmPending) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(pending.confirm), LATE_CONFIRM_WAIT)
        except (TimeoutError, BrokerUnavailable):
            return False
        return True

    def _watch(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_report_failure)

    async def fall_back(self, event: Envelope[WeChatMessage], reason: str) -> None:
        """``reply.fallback``: replies answers ``event`` through the customer-service API.
        Never raises: ``event`` itself is on the bus or kept by now, and a 503 would only
        make WeChat send it again."""
        self.metrics.replies.labels("fallback").inc()
        try:
            await self.publish_or_keep(fallback_of(event, reason, now=datetime.now(UTC)))
        except BrokerUnavailable as exc:
            self.metrics.replies.labels("fallback_lost").inc()
            logger.error("no fallback reply for %s: %s", event.id, exc)

    def replied(self, event: Envelope[WeChatMessage], answer: PassiveAnswer) -> None:
        """The passive reply went back to WeChat: say so on the bus (off the request path,
        with the other receipts of the next ``RECEIPT_LINGER``)."""
        if answer.rule_id is None:
            return
        sent = reply_sent(event, rule_id=answer.rule_id, via="passive", at=datetime.now(UTC))
        self._receipts.append(sent)
        if not self._gathering:
            self._gathering = True
            self._watch(self._send_receipts())

    async def _send_receipts(self) -> None:
        """Waits ``RECEIPT_LINGER`` for company, then sends what gathered, and what gathers
        while that is confirmed, until none is left."""
        try:
            while self._receipts:
                await asyncio.sleep(RECEIPT_LINGER)
                while self._receipts:
                    bundle = self._receipts[:MAX_RECEIPTS]
                    del self._receipts[:MAX_RECEIPTS]
                    await self._publish_receipts(bundle)
        finally:
            self._gathering = False

    async def _publish_receipts(self, bundle: list[Envelope[ReplySent]]) -> None:
        if not self.backlog.queuing:
            try:
                await self._confirmed_publish(
                    self.publisher.publish_bundle(bundle), events=len(bundle)
                )
                return
            except ConfirmPending as pending:
                if await self._confirmed(pending):
                    self.metrics.published.labels("late_confirm").inc(len(bundle))
                    return
            except BrokerUnavailable as exc:
                logger.warning("%d receipts not published together (%s)", len(bundle), exc)
        for receipt in bundle:  # one at a time, each published or kept
            try:
                await self.publish_or_keep(receipt)
            except BrokerUnavailable as exc:
                logger.error("reply.sent %s lost: %s", receipt.id, exc)

    async def drain(self) -> None:
        """Waits for the reply.sent events still being published and the late confirms
        still awaited (at shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class Gathered:
    """An event waiting for the end of its turn to be published; ``confirmed`` ends as
    its publish does."""

    event: Envelope[Any]
    ask: ReplyAsk | None
    confirmed: asyncio.Future[None]


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("dispatch task failed: %r", task.exception())
