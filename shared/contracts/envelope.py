"""The versioned event envelope that travels on ``wx.events``.

``type`` is ``msg.<msgtype>`` for readers' messages, ``event.<event>`` for WeChat events
(both lower-case), and ``<concern>.<what>`` for what the platform itself says
(``reply.fallback``, ``broadcast.submitted``, ...). The routing key is
``{tenant_id}.{type}``. The payload is typed: :mod:`shared.contracts.payloads` holds one
class per type and :func:`decode` picks it, so no consumer reads a payload dict.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from shared.contracts.codec import DecodeError, JsonObject

if TYPE_CHECKING:
    from shared.contracts.payloads import Payload, PlatformPayload

VERSION = 1
TYPE_RE = re.compile(r"^(msg|event|reply|broadcast|analytics)\.[a-z0-9_]{1,64}$")
_UNSAFE = re.compile(r"[^a-z0-9_]")
# The AMQP headers on an event the gateway waits on. The deadline is epoch milliseconds
# after which a passive reply no longer helps (for people and logs). The budget is the
# milliseconds left when it was published: the consumer counts it from its own receipt,
# so a skewed clock between two hosts moves nothing.
REPLY_DEADLINE_HEADER = "x-wxp-reply-deadline"
REPLY_BUDGET_HEADER = "x-wxp-reply-budget-ms"

P = TypeVar("P", bound="Payload", covariant=True)
Q = TypeVar("Q", bound="PlatformPayload")


class EnvelopeError(DecodeError):
    """Bytes on the bus that are not a valid envelope; ``reason`` labels why."""

    def __init__(self, message: str, *, reason: str = "undecodable") -> None:
        super().__init__(message)
        self.reason = reason


def type_name(kind: str, name: str) -> str:
    """``type_name("event", "SCAN") == "event.scan"``; odd characters become ``_``."""
    clean = _UNSAFE.sub("_", name.strip().lower())[:64] or "unknown"
    return f"{kind}.{clean}"


def message_event_id(tenant_id: str, msg_id: str) -> str:
    """Id of a message (or job-finish event) WeChat numbered: the account plus MsgId."""
    return _digest(tenant_id, "msgid", msg_id)


def event_event_id(tenant_id: str, openid: str, create_time: str, event: str, key: str) -> str:
    """Id of an event WeChat did not number: sender, time, event and key."""
    return _digest(tenant_id, "event", openid, create_time, event, key)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def utc_now() -> datetime:
    """The wall clock, aware and in UTC: the default ``now`` of code that takes one."""
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    if ts.tzinfo is not UTC:  # most are UTC already (datetime.now(UTC)): no conversion
        ts = ts.astimezone(UTC)
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(stamp: str) -> datetime:
    """The datetime of an envelope time written by :func:`iso`."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Envelope(Generic[P]):
    id: str
    tenant_id: str
    type: str
    occurred_at: str
    received_at: str
    openid: str
    payload: P
    v: int = VERSION

    @property
    def routing_key(self) -> str:
        return f"{self.tenant_id}.{self.type}"

    @property
    def kind(self) -> str:
        return self.type.split(".", 1)[0]

    def as_json(self) -> JsonObject:
        return {
            "v": self.v,
            "id": self.id,
            "tenant_id": self.tenant_id,
            "type": self.type,
            "occurred_at": self.occurred_at,
            "received_at": self.received_at,
            "openid": self.openid,
            "payload": self.payload.to_json(),
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.as_json(), ensure_ascii=False, separators=(",", ":")).encode()


def announce(payload: Q, *, id: str, tenant_id: str, at: datetime, openid: str = "") -> Envelope[Q]:
    """The envelope of something the platform says at ``at``."""
    stamp = iso(at)
    return Envelope(id, tenant_id, payload.TYPE, stamp, stamp, openid, payload)
