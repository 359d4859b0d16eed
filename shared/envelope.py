"""The versioned event envelope that travels on ``wx.events``, and its routing keys.

``type`` is ``msg.<msgtype>`` for readers' messages, ``event.<event>`` for WeChat
events (both lower-case) and ``reply.<what>`` for the platform's own reply events.
The routing key is ``{tenant_id}.{type}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

VERSION = 1
KINDS = ("msg", "event", "reply")
TYPE_RE = re.compile(r"^(msg|event|reply)\.[a-z0-9_]{1,64}$")
_UNSAFE = re.compile(r"[^a-z0-9_]")


class EnvelopeError(ValueError):
    """Bytes on the bus that are not a valid envelope."""


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


# The AMQP header on an event the gateway waits on: epoch milliseconds after which a
# passive reply no longer helps.
REPLY_DEADLINE_HEADER = "x-wxp-reply-deadline"


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(stamp: str) -> datetime:
    """The datetime of an envelope time written by :func:`iso`."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Envelope:
    id: str
    tenant_id: str
    type: str
    occurred_at: str
    received_at: str
    openid: str
    payload: dict[str, Any] = field(default_factory=dict)
    v: int = VERSION

    @property
    def routing_key(self) -> str:
        return f"{self.tenant_id}.{self.type}"

    @property
    def kind(self) -> str:
        return self.type.split(".", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "id": self.id,
            "tenant_id": self.tenant_id,
            "type": self.type,
            "occurred_at": self.occurred_at,
            "received_at": self.received_at,
            "openid": self.openid,
            "payload": self.payload,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, body: bytes) -> Envelope:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvelopeError(f"not JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> Envelope:
        if not isinstance(data, dict):
            raise EnvelopeError("envelope must be a JSON object")
        if data.get("v") != VERSION:
            raise EnvelopeError(f"unsupported envelope version {data.get('v')!r}")
        strings = ("id", "tenant_id", "type", "occurred_at", "received_at", "openid")
        for name in strings:
            if not isinstance(data.get(name), str):
                raise EnvelopeError(f"field {name!r} must be a string")
        if not TYPE_RE.fullmatch(data["type"]):
            raise EnvelopeError(f"bad type {data['type']!r}")
        payload = data.get("payload", {})
        if not isinstance(payload, dict):
            raise EnvelopeError("field 'payload' must be an object")
        return cls(**{name: data[name] for name in strings}, payload=payload)


def reply_sent(original: Envelope, *, rule_id: str, via: str, at: datetime) -> Envelope:
    """``reply.sent``: a rule's reply reached the reader, passively or through the
    customer-service API (``via``); analytics counts keyword hits by it."""
    return Envelope(
        id=f"{original.id}-sent",
        tenant_id=original.tenant_id,
        type="reply.sent",
        occurred_at=iso(at),
        received_at=iso(at),
        openid=original.openid,
        payload={"event_id": original.id, "rule_id": rule_id, "via": via},
    )
