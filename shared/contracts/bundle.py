"""Several envelopes of one type in one message on ``wx.events``: a bundle.

Each member is the envelope it would be alone, unchanged; the bundle only carries them
together, so that the broker, whose quorum queues pay per message, stores and delivers
one message for many. Two kinds travel so: the gateway's passive ``reply.sent`` receipts,
gathered for a few milliseconds, and the events the gateway publishes in one turn of its
event loop (under load, those whose dedup records went in together), gathered with no
wait at all (``services/gateway/dispatch.py``); an event alone in its turn goes as a
message of its own, under its own routing key.

On the wire: the content type says ``bundle`` (the consumer frame reads it before the
body), the body is a JSON array of envelopes, and the routing key is the members' type
under the reserved tenant segment ``_bundle`` (never a tenant id: those are
``[a-z0-9-]``), so a queue bound to ``*.msg.*`` or ``*.reply.sent`` takes bundles as it
takes single events, and one bound to a single tenant's keys does not see them.

Members the publisher waits on for a passive reply carry their asks in the bundle's
``x-wxp-asks`` header: one entry per member, in order, each ``""`` (no reply asked) or
``[correlation id, budget ms, deadline ms]`` (:class:`ReplyAsk`). The consumer frame gives
each member its own, as the reply headers of a message that came alone.

The answers go back together too, when the asker says it takes them so (``x-wxp-answers-
together: true`` on the message that asks): the answers a responder sends to one reply-to
in one turn of its event loop travel as one message, of content type
``application/vnd.wxp.answers``, whose body is the answers' bodies one after the other and
whose ``x-wxp-answers`` header says, in order, ``[correlation id, length in bytes]`` of
each. Direct reply-to costs the broker per message, as a queue does: about 14 answers to a
gateway's bundle of 14 texts were 14 messages. An asker that does not say so (a gateway
older than this) gets each answer alone, as before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.contracts.codec import DecodeError
from shared.contracts.envelope import (
    REPLY_BUDGET_HEADER,
    REPLY_DEADLINE_HEADER,
    Envelope,
    EnvelopeError,
)
from shared.contracts.payloads import Payload, envelope_from_json

BUNDLE_CONTENT_TYPE = "application/vnd.wxp.bundle+json"
BUNDLE_TENANT = "_bundle"
MAX_MEMBERS = 1_000
ASKS_HEADER = "x-wxp-asks"
TOGETHER_HEADER = "x-wxp-answers-together"  # on an ask: its answer may come with others
ANSWERS_HEADER = "x-wxp-answers"
ANSWERS_CONTENT_TYPE = "application/vnd.wxp.answers"
MAX_ANSWERS = 256  # in one message; more to one reply-to in one turn go in several


@dataclass(frozen=True, slots=True)
class ReplyAsk:
    """A publisher waits for a passive reply to an event: the answer goes to its direct
    reply-to with ``correlation_id``, within ``budget_ms`` of the event's receipt
    (``deadline_ms``: the same moment in epoch milliseconds; see ``envelope.py``)."""

    correlation_id: str
    budget_ms: int
    deadline_ms: int

    def headers(self) -> dict[str, int]:
        """The reply headers of the event when it travels alone."""
        return {REPLY_DEADLINE_HEADER: self.deadline_ms, REPLY_BUDGET_HEADER: self.budget_ms}


def encode_asks(asks: Sequence[ReplyAsk | None]) -> list[Any]:
    """The ``x-wxp-asks`` header of a bundle whose members asked ``asks`` (one per member,
    None where no reply is asked)."""
    return [
        "" if ask is None else [ask.correlation_id, ask.budget_ms, ask.deadline_ms] for ask in asks
    ]


def ask_of(asks: object, index: int, members: int) -> ReplyAsk | None:
    """The ask of member ``index`` of ``members`` in a bundle whose ``x-wxp-asks`` header is
    ``asks``; None when it asked none, or when the header is not one we write (then no
    member gets a reply, and their publisher falls back when its wait ends)."""
    if not isinstance(asks, list) or len(asks) != members or not 0 <= index < members:
        return None
    ask = asks[index]
    if not isinstance(ask, list) or len(ask) != 3:
        return None
    correlation_id, budget_ms, deadline_ms = ask
    correlation_id = _text(correlation_id)
    if not (
        isinstance(correlation_id, str)
        and correlation_id
        and type(budget_ms) is int
        and type(deadline_ms) is int
    ):
        return None
    return ReplyAsk(correlation_id, budget_ms, deadline_ms)


def _text(value: object) -> object:
    """A header value as text where AMQP gave a long string as bytes; others as they are."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


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


def encode_answers(answers: Sequence[tuple[str, bytes]]) -> tuple[list[list[Any]], bytes]:
    """The ``x-wxp-answers`` header and the body of one message carrying ``answers``, each
    ``(correlation id, body)``, 1 to MAX_ANSWERS of them."""
    if not 0 < len(answers) <= MAX_ANSWERS:
        raise ValueError(f"1 to {MAX_ANSWERS} answers travel together, not {len(answers)}")
    header = [[correlation_id, len(body)] for correlation_id, body in answers]
    return header, b"".join(body for _, body in answers)


def decode_answers(header: object, body: bytes) -> list[tuple[str, bytes]]:
    """Each ``(correlation id, body)`` of a message of answers; DecodeError when its header
    is not one we write or its lengths do not add up to the body's (then none of them is
    taken: the askers fall back when their waits end, as for an answer lost)."""
    if not isinstance(header, list) or not 0 < len(header) <= MAX_ANSWERS:
        raise DecodeError(f"{ANSWERS_HEADER}: a list of 1 to {MAX_ANSWERS} answers")
    answers: list[tuple[str, bytes]] = []
    start = 0
    for entry in header:
        if not isinstance(entry, list) or len(entry) != 2:
            raise DecodeError(f"{ANSWERS_HEADER}: each entry is [correlation id, length]")
        correlation_id, length = entry
        correlation_id = _text(correlation_id)
        if not isinstance(correlation_id, str) or not correlation_id:
            raise DecodeError(f"{ANSWERS_HEADER}: a correlation id is a non-empty string")
        if type(length) is not int or length < 0:
            raise DecodeError(f"{ANSWERS_HEADER}: a length is an int of 0 or more")
        answers.append((correlation_id, body[start : start + length]))
        start += length
    if start != len(body):
        raise DecodeError(f"{ANSWERS_HEADER}: lengths add up to {start}, the body is {len(body)}")
    return answers
