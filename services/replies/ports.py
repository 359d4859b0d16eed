"""What the reply handlers and the rule cache need from the world, as protocols: the real
stores and clients implement them, and the unit tests' in-memory fakes do too."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from services.replies.claims import Claim
from services.replies.matching import RuleSet
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.platform.tenant_records import TenantAccount


class RuleSource(Protocol):
    async def get(self, tenant_id: str) -> RuleSet: ...


class RuleStore(Protocol):
    async def all(self, tenant_id: str) -> list[dict[str, Any]]: ...


class Timezones(Protocol):
    async def timezone(self, tenant_id: str) -> str: ...


class SentLog(Protocol):
    """Customer-service replies per tenant: claims per attempt at an event (``claims.py``)."""

    async def insert(self, tenant_id: str, claim: Claim) -> bool: ...
    async def attempts(self, tenant_id: str, event_id: str) -> list[Claim]: ...
    async def claims_of(self, tenant_id: str, openid: str, since: datetime) -> list[Claim]: ...
    async def mark_calling(self, tenant_id: str, claim: Claim) -> None: ...
    async def finish(self, tenant_id: str, claim: Claim, status: str) -> None: ...
    async def release(self, tenant_id: str, claim: Claim) -> None: ...


class Unanswered(Protocol):
    """The reader inbox (``inbox_store.py``): a message no rule answered, kept once."""

    async def record(self, event: Envelope[WeChatMessage]) -> bool: ...


class Accounts(Protocol):
    async def account(self, tenant_id: str) -> TenantAccount: ...


class CustomerService(Protocol):
    async def send_custom_message(self, appid: str, payload: dict[str, Any]) -> Any: ...


class EventSink(Protocol):
    async def publish(self, envelope: Envelope[Any]) -> None: ...
