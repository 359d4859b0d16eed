"""What the webhook's intake and the relay need from the world, as protocols: the real
stores and publisher implement them, and the unit tests' in-memory fakes do too."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from services.gateway.marks import Published
from services.gateway.outbox import Claimed, Kept
from shared.contracts.bundle import ReplyAsk
from shared.contracts.envelope import Envelope
from shared.contracts.reply import PassiveAnswer


class Dedup(Protocol):
    def first_sight(self, envelope: Envelope[Any]) -> Awaitable[bool]: ...
    async def seen_at(self, envelope: Envelope[Any]) -> datetime | None: ...


class Marks(Protocol):
    def add(self, event_id: str, tenant_id: str, answer: PassiveAnswer | None = None) -> None: ...
    async def lookup(self, event_id: str) -> Published | None: ...


class Outbox(Protocol):
    async def keep(self, envelope: Envelope[Any], *, hold: float = 0.0) -> None: ...
    async def kept(self, limit: int) -> list[Kept]: ...
    async def claim(self, event_ids: list[str]) -> Claimed: ...
    async def unclaim(self, event_ids: list[str]) -> None: ...
    async def release(self, published: Mapping[str, str]) -> None: ...
    async def holds(self, event_id: str) -> bool: ...


class Publisher(Protocol):
    async def publish(
        self,
        envelope: Envelope[Any],
        *,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> None: ...

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
    ) -> None: ...

    async def publish_bundle(
        self, members: Sequence[Envelope[Any]], asks: Sequence[ReplyAsk | None] = ()
    ) -> None: ...

    def expect_reply(self, correlation_id: str) -> asyncio.Future[bytes]: ...
    def forget(self, correlation_id: str) -> None: ...
