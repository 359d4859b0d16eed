"""In-memory fakes of the gateway's and the replies service's ports (``ports.py``), for
the unit tests of their decision logic: no broker, no database. Each fake keeps what
was done to it in plain attributes for the test to read, and fails on request the way
the real one does (``ConnectionFailure`` for a database that is away,
``BrokerUnavailable`` for a broker that does not confirm)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import AutoReconnect

from services.gateway.marks import Published
from services.gateway.outbox import Claimed, Kept
from services.replies.matching import RuleSet
from shared.contracts.bundle import (
    ASKS_HEADER,
    BUNDLE_CONTENT_TYPE,
    ReplyAsk,
    bundle_id,
    bundle_routing_key,
    encode_asks,
    encode_bundle,
)
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer
from shared.platform.bus import BrokerUnavailable
from shared.platform.publisher import ConfirmPending
from shared.platform.tenant_records import TenantAccount

TENANT = "acme"
OPENID = "o_reader"
# A tenant's stored rules, as the replies service's fakes serve them.
RULES: list[dict[str, Any]] = [
    {
        "id": "r-price",
        "name": "price",
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": "exact", "pattern": "price"},
        "reply": {"type": "text", "content": "10 yuan, {openid}"},
    },
    {
        "id": "r-menu",
        "name": "menu",
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "click", "key": "MENU_1"},
        "reply": {"type": "text", "content": "the menu"},
    },
]


def message(
    event_id: str = "m1",
    *,
    tenant: str = TENANT,
    content: str = "price",
    kind: str = "msg.text",
    occurred: datetime | None = None,
    fields: Mapping[str, Any] | None = None,
) -> Envelope[WeChatMessage]:
    """A reader's message (or, with ``kind="event.*"``, an event) as the gateway publishes it."""
    at = occurred or datetime.now(UTC)
    payload = WeChatMessage(account="gh_acme", fields=dict(fields or {"content": content}))
    return Envelope(event_id, tenant, kind, iso(at), iso(at), OPENID, payload)


def database_down() -> Exception:
    """What pymongo raises when the database is unreachable (one of ``UNAVAILABLE``)."""
    return AutoReconnect("the database is away")


# --- the gateway's ports -------------------------------------------------------------


@dataclass
class FakeDedup:
    """``gateway_seen_<n>``: ``seen`` maps ids to when they were first seen."""

    seen: dict[str, datetime] = field(default_factory=dict)
    down: bool = False
    stalls: bool = False  # never answers (a database too slow for the webhook)

    async def _reach(self) -> None:
        if self.down:
            raise database_down()
        if self.stalls:
            await asyncio.Event().wait()

    async def first_sight(self, envelope: Envelope[Any]) -> bool:
        await self._reach()
        if envelope.id in self.seen:
            return False
        self.seen[envelope.id] = datetime.now(UTC)
        return True

    async def seen_at(self, envelope: Envelope[Any]) -> datetime | None:
        await self._reach()
        return self.seen.get(envelope.id)


@dataclass
class FakeMarks:
    """``gateway_published_<n>``: ``notes`` maps published ids to the answer WeChat got."""

    notes: dict[str, Published] = field(default_factory=dict)

    def add(self, event_id: str, tenant_id: str, answer: PassiveAnswer | None = None) -> None:
        self.notes[event_id] = Published(answer=answer)

    async def lookup(self, event_id: str) -> Published | None:
        return self.notes.get(event_id)


@dataclass
class FakeOutbox:
    """``gateway_outbox``: ``items`` waiting in keeping order, ``claims`` those held (by a
    relay or a late confirm), ``released`` the ids published since. As in the real one,
    only an event still waiting and unclaimed can be claimed."""

    items: list[Kept] = field(default_factory=list)
    claims: set[str] = field(default_factory=set)
    released: list[str] = field(default_factory=list)
    held: dict[str, float] = field(default_factory=dict)  # id -> hold asked at keep
    notes: FakeMarks = field(default_factory=lambda: FakeMarks())  # where release notes
    down: bool = False
    slow_keeps: bool = False  # a keep lands, then its answer never comes (a timeout)

    @property
    def ids(self) -> list[str]:
        return [item.event_id for item in self.items]

    async def keep(self, envelope: Envelope[Any], *, hold: float = 0.0) -> None:
        if self.down:
            raise database_down()
        if self.slow_keeps:
            self.slow_keeps = False
            await self.keep(envelope, hold=hold)
            await asyncio.Event().wait()
        if envelope.id in self.ids or envelope.id in self.released:
            return  # idempotent per id, as the unique _id makes it
        self.items.append(
            Kept(envelope.id, envelope.tenant_id, envelope.routing_key, envelope.to_bytes(), {})
        )
        if hold > 0:
            self.claims.add(envelope.id)
            self.held[envelope.id] = hold

    async def kept(self, limit: int) -> list[Kept]:
        return self.items[:limit]

    async def claim(self, event_ids: list[str]) -> Claimed:
        held: list[str] = []
        for event_id in event_ids:
            if event_id in self.claims:
                return Claimed([e for e in held if e in self.ids], stopped=True)
            self.claims.add(event_id)
            held.append(event_id)
        self.claims -= {e for e in held if e not in self.ids}
        return Claimed([e for e in held if e in self.ids], stopped=False)

    async def unclaim(self, event_ids: list[str]) -> None:
        self.claims -= set(event_ids)

    async def release(self, published: Mapping[str, str]) -> None:
        if self.down:
            raise database_down()
        self.items = [item for item in self.items if item.event_id not in published]
        self.claims -= set(published)
        self.released.extend(published)
        for event_id, tenant_id in published.items():
            self.notes.add(event_id, tenant_id)  # the relay writes the published notes

    async def holds(self, event_id: str) -> bool:
        if self.down:
            raise database_down()
        return event_id in self.ids


@dataclass(frozen=True)
class Confirmed:
    """One message the broker confirmed."""

    routing_key: str
    message_id: str
    body: bytes
    headers: Mapping[str, Any]
    correlation_id: str | None
    confirm_timeout: float | None
    content_type: str = "application/json"


@dataclass
class FakePublisher:
    """The confirming publisher and its direct reply-to. ``confirms`` is how many more
    publishes the broker confirms (None: all); after that each raises BrokerUnavailable.
    ``answer`` is what the replies service sends back to a publish that expects a reply
    (None: it stays silent)."""

    confirms: int | None = None
    answer: bytes | None = None
    late: bool = False  # the broker takes each publish but confirms only when told
    pending: list[asyncio.Future[None]] = field(default_factory=list)
    sent: list[Confirmed] = field(default_factory=list)
    waiting: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)
    forgotten: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [message.message_id for message in self.sent]

    def break_down(self) -> None:
        self.confirms = 0

    def recover(self) -> None:
        self.confirms = None

    async def publish(
        self,
        envelope: Envelope[Any],
        *,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> None:
        await self.publish_raw(
            envelope.to_bytes(),
            routing_key=envelope.routing_key,
            message_id=envelope.id,
            headers=headers,
            correlation_id=correlation_id,
        )

    async def publish_bundle(
        self, members: Sequence[Envelope[Any]], asks: Sequence[ReplyAsk | None] = ()
    ) -> None:
        await self.publish_raw(
            encode_bundle(members),
            routing_key=bundle_routing_key(members[0].type),
            message_id=bundle_id(members),
            headers={ASKS_HEADER: encode_asks(asks)} if any(asks) else None,
            content_type=BUNDLE_CONTENT_TYPE,
        )
        for ask in asks:  # confirmed: the replies service answers each member that asks
            if ask is not None:
                self._answer(ask.correlation_id)

    async def publish_raw(
        self,
        body: bytes,
        *,
        routing_key: str,
        message_id: str,
        headers: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        confirm_timeout: float | None = None,
        content_type: str = "application/json",
    ) -> None:
        if self.confirms is not None:
            if self.confirms <= 0:
                raise BrokerUnavailable(f"publish of {message_id} not confirmed")
            self.confirms -= 1
        self.sent.append(
            Confirmed(
                routing_key,
                message_id,
                body,
                headers or {},
                correlation_id,
                confirm_timeout,
                content_type,
            )
        )
        if self.late:
            confirm: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.pending.append(confirm)
            raise ConfirmPending(message_id, confirm)
        self._answer(correlation_id)

    def _answer(self, correlation_id: str | None) -> None:
        reply = self.waiting.get(correlation_id or "")
        if reply is not None and self.answer is not None:
            answer = self.answer
            asyncio.get_running_loop().call_soon(
                lambda: None if reply.done() else reply.set_result(answer)
            )

    def expect_reply(self, correlation_id: str) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiting[correlation_id] = future
        return future

    def forget(self, correlation_id: str) -> None:
        self.waiting.pop(correlation_id, None)
        self.forgotten.append(correlation_id)


# --- the replies service's ports -----------------------------------------------------


@dataclass
class FakeRuleSource:
    """Compiled rule sets by tenant; ``error`` is raised instead when set."""

    sets: dict[str, RuleSet] = field(default_factory=dict)
    error: Exception | None = None
    reads: int = 0

    async def get(self, tenant_id: str) -> RuleSet:
        self.reads += 1
        if self.error is not None:
            raise self.error
        return self.sets[tenant_id]


@dataclass
class FakeRuleStore:
    """The stored rule documents by tenant; ``reads`` counts the reads per tenant."""

    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)

    async def all(self, tenant_id: str) -> list[dict[str, Any]]:
        self.reads[tenant_id] = self.reads.get(tenant_id, 0) + 1
        return list(self.rules.get(tenant_id, []))


@dataclass
class FakeTimezones:
    zones: dict[str, str] = field(default_factory=dict)

    async def timezone(self, tenant_id: str) -> str:
        return self.zones.get(tenant_id, "Asia/Shanghai")


class FakeAccounts:
    async def account(self, tenant_id: str) -> TenantAccount:
        return TenantAccount(tenant_id=tenant_id, appid=f"wx_{tenant_id}")


@dataclass
class FakeCustomerService:
    """The customer-service API: ``failures`` are raised, one per call, before any send
    goes through; ``delivered`` holds what reached readers."""

    failures: list[Exception] = field(default_factory=list)
    attempts: int = 0
    delivered: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def send_custom_message(self, appid: str, payload: dict[str, Any]) -> Any:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append((appid, payload))
        return {"errcode": 0, "errmsg": "ok"}


@dataclass
class FakeUnanswered:
    """The reader inbox: the messages recorded, once each (as the unique ``_id`` makes it);
    ``down``: the database is away."""

    recorded: dict[str, Envelope[WeChatMessage]] = field(default_factory=dict)
    down: bool = False

    async def record(self, event: Envelope[WeChatMessage]) -> bool:
        if self.down:
            raise database_down()
        if event.kind != "msg" or event.id in self.recorded:
            return False
        self.recorded[event.id] = event
        return True


@dataclass
class FakeEventSink:
    published: list[Envelope[Any]] = field(default_factory=list)

    async def publish(self, envelope: Envelope[Any]) -> None:
        self.published.append(envelope)


@dataclass
class Responses:
    """A delivery's ``respond``: the bodies sent back on the direct reply-to."""

    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, body: bytes) -> None:
        self.bodies.append(body)


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
