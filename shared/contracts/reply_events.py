"""What the platform says about replies: ``reply.fallback`` (the gateway could not return a
passive reply) and ``reply.sent`` (a reply reached its reader)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, cast

from shared.contracts.codec import DecodeError, Json, JsonObject, text
from shared.contracts.envelope import Envelope, EnvelopeError, announce, iso
from shared.contracts.messages import WeChatMessage

Via = Literal["passive", "customer_service"]


@dataclass(frozen=True, slots=True)
class ReplyFallback:
    """The gateway could not return a passive reply to ``event``: answer it through the
    customer-service API. ``reason``: ``deadline`` or ``broker_unavailable``."""

    TYPE: ClassVar[str] = "reply.fallback"
    reason: str
    event: Envelope[WeChatMessage]

    def to_json(self) -> JsonObject:
        return {"reason": self.reason, "event": self.event.as_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> ReplyFallback:
        from shared.contracts.payloads import envelope_from_json  # the codec of every type

        inner = envelope_from_json(data.get("event"))
        if not isinstance(inner.payload, WeChatMessage):
            raise EnvelopeError(f"a fallback answers a WeChat message, not {inner.type}")
        return cls(reason=text(data, "reason"), event=cast(Envelope[WeChatMessage], inner))


@dataclass(frozen=True, slots=True)
class ReplySent:
    """A rule's reply reached the reader, passively or through the customer-service API;
    or a person's answer from the reader inbox did (``rule_id`` empty)."""

    TYPE: ClassVar[str] = "reply.sent"
    event_id: str
    rule_id: str
    via: Via

    def to_json(self) -> JsonObject:
        return {"event_id": self.event_id, "rule_id": self.rule_id, "via": self.via}

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> ReplySent:
        via = text(data, "via")
        if via not in ("passive", "customer_service"):
            raise DecodeError(f"unknown via {via!r}")
        return cls(text(data, "event_id"), text(data, "rule_id"), cast(Via, via))


def fallback_of(
    event: Envelope[WeChatMessage], reason: str, *, now: datetime
) -> Envelope[ReplyFallback]:
    """``reply.fallback`` for ``event``: same reader and time, received ``now``."""
    payload = ReplyFallback(reason=reason, event=event)
    return Envelope(
        f"{event.id}-fb",
        event.tenant_id,
        ReplyFallback.TYPE,
        event.occurred_at,
        iso(now),
        event.openid,
        payload,
    )


def reply_sent(
    original: Envelope[WeChatMessage], *, rule_id: str, via: Via, at: datetime
) -> Envelope[ReplySent]:
    """``reply.sent``: a rule's reply to ``original`` reached its reader."""
    return announce(
        ReplySent(event_id=original.id, rule_id=rule_id, via=via),
        id=f"{original.id}-sent",
        tenant_id=original.tenant_id,
        at=at,
        openid=original.openid,
    )
