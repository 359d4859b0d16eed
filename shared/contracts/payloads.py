"""Every payload on ``wx.events``, and decoding bytes into a typed envelope.

WeChat's own messages and events (``msg.*``, ``event.*``) are :class:`WeChatMessage`;
what the platform says is one frozen class per ``TYPE`` (``reply_events.py``,
``broadcast_events.py``), each with its JSON codec. :func:`decode` picks the class by
the envelope's type, or raises :class:`EnvelopeError` saying why not.
"""

from __future__ import annotations

import json
from typing import TypeAlias

from shared.contracts.broadcast_events import (
    BroadcastFinished,
    BroadcastImpact,
    BroadcastSubmitted,
    SendTimeAdvice,
)
from shared.contracts.codec import DecodeError, obj, text
from shared.contracts.envelope import TYPE_RE, VERSION, Envelope, EnvelopeError
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplyFallback, ReplySent

PlatformPayload: TypeAlias = (
    ReplyFallback
    | ReplySent
    | BroadcastSubmitted
    | BroadcastFinished
    | SendTimeAdvice
    | BroadcastImpact
)
Payload: TypeAlias = WeChatMessage | PlatformPayload
PLATFORM_TYPES: dict[str, type[PlatformPayload]] = {
    cls.TYPE: cls
    for cls in (
        ReplyFallback,
        ReplySent,
        BroadcastSubmitted,
        BroadcastFinished,
        SendTimeAdvice,
        BroadcastImpact,
    )
}
ENVELOPE_STRINGS = ("id", "tenant_id", "type", "occurred_at", "received_at", "openid")


def envelope_from_json(value: object) -> Envelope[Payload]:
    """The typed envelope of decoded JSON; inner envelopes must be the same tenant's."""
    data = obj(value, "envelope")
    if data.get("v") != VERSION:
        raise EnvelopeError(f"unsupported envelope version {data.get('v')!r}")
    event_id, tenant_id, kind, occurred_at, received_at, openid = (
        text(data, name) for name in ENVELOPE_STRINGS
    )
    if not TYPE_RE.fullmatch(kind):
        raise EnvelopeError(f"bad type {kind!r}")
    body = obj(data.get("payload", {}), "payload")
    payload: Payload
    if kind.startswith(("msg.", "event.")):
        payload = WeChatMessage.from_json(body)
    elif kind in PLATFORM_TYPES:
        payload = PLATFORM_TYPES[kind].from_json(body)
    else:
        raise EnvelopeError(f"no payload class for type {kind!r}")
    if isinstance(payload, ReplyFallback) and payload.event.tenant_id != tenant_id:
        raise EnvelopeError(
            f"envelope of tenant {tenant_id} carries an event of tenant {payload.event.tenant_id}",
            reason="tenant_mismatch",
        )
    return Envelope(event_id, tenant_id, kind, occurred_at, received_at, openid, payload)


def decode(body: bytes) -> Envelope[Payload]:
    """Bytes from the bus as a typed envelope; :class:`EnvelopeError` says why not."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EnvelopeError(f"not JSON: {exc}") from None
    try:
        return envelope_from_json(data)
    except EnvelopeError:
        raise
    except DecodeError as exc:
        raise EnvelopeError(str(exc)) from None
