"""Several envelopes of one type in one message on ``wx.events``: a bundle.

Each member is the envelope it would be alone, unchanged; the bundle only carries them
together, so that the broker, whose quorum queues pay per message, stores and delivers
one message for many. Only the platform's own high-volume notices travel so (the
gateway's passive ``reply.sent`` receipts, gathered for a few milliseconds; see
``services/gateway/dispatch.py``); WeChat's messages and events never do.

On the wire: the content type says ``bundle`` (the consumer frame reads it before the
body), the body is a JSON array of envelopes, and the routing key is the members' type
under the reserved tenant segment ``_bundle`` (never a tenant id: those are
``[a-z0-9-]``), so a queue bound to ``*.reply.sent`` takes bundles of receipts as it
takes single ones, and one bound to a single tenant's keys does not see them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shared.contracts.codec import DecodeError
from shared.contracts.envelope import Envelope, EnvelopeError
from shared.contracts.payloads import Payload, envelope_from_json

BUNDLE_CONTENT_TYPE = "application/vnd.wxp.bundle+json"
BUNDLE_TENANT = "_bundle"
MAX_MEMBERS = 1_000


def bundle_routing_key(type_: str) -> str:
    return f"{BUNDLE_TENANT}.{type_}"


def bundle_id(members: Sequence[Envelope[Any]]) -> str:
    """The bundle's ``message_id`` in logs and dead-letter queues: its first member's id
    and how many there are."""
    return f"bundle:{members[0].id}+{len(members)}"


def encode_bundle(members: Sequence[Envelope[Any]]) -> bytes:
    """The body of a bundle; ``members`` are 1 to MAX_MEMBERS envelopes of one type."""
    if not 0 < len(members) <= MAX_MEMBERS:
        raise ValueError(f"a bundle holds 1 to {MAX_MEMBERS} envelopes, not {len(members)}")
    types = {member.type for member in members}
    if len(types) != 1:
        raise ValueError(f"a bundle's envelopes share one type, not {sorted(types)}")
    return b"[" + b",".join(member.to_bytes() for member in members) + b"]"


def decode_bundle(body: bytes) -> list[Envelope[Payload]]:
    """The typed members of a bundle; :class:`EnvelopeError` says why not (any member
    that does not decode spoils the whole bundle: its bytes were never a bundle we
    wrote)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EnvelopeError(f"bundle not JSON: {exc}") from None
    if not isinstance(data, list) or not 0 < len(data) <= MAX_MEMBERS:
        raise EnvelopeError(f"a bundle is a list of 1 to {MAX_MEMBERS} envelopes")
    try:
        members = [envelope_from_json(member) for member in data]
    except EnvelopeError:
        raise
    except DecodeError as exc:
        raise EnvelopeError(f"bundle member: {exc}") from None
    types = {member.type for member in members}
    if len(types) != 1:
        raise EnvelopeError(f"a bundle of mixed types: {sorted(types)}")
    return members
