"""What analytics keeps of one envelope: a :class:`Fact`. Pure.

Only types, keys, ids and times are kept, never what a reader wrote: a ``msg.text``
becomes "someone sent a text at 00:30 local", nothing more. The local ``day``, ``hour``
and ``weekday`` are fixed when the fact is made, in the tenant's timezone, from the
envelope's ``occurred_at`` (WeChat's CreateTime).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from shared.contracts.broadcast_events import BroadcastSubmitted
from shared.contracts.envelope import Envelope, parse_iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplySent

FOLLOW, UNFOLLOW, INTERACTION, REPLY, BROADCAST, OTHER = (
    "follow",
    "unfollow",
    "interaction",
    "reply",
    "broadcast",
    "other",
)
# The events (as in ``event.<name>``) in which a reader does something; LOCATION (sent by
# WeChat on its own), follows and job-finish reports are not interactions.
INTERACTION_EVENTS = frozenset(
    {
        "click",
        "view",
        "scan",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    }
)
KEYED_EVENTS = frozenset({"click", "view"})  # the menu key is kept for these


class Fact(NamedTuple):
    """One envelope as analytics keeps it. A named tuple, not a frozen dataclass: the
    raw log is read a few hundred thousand facts at a time (a refresh after a start,
    ``stats/daily`` of a busy month), and a frozen dataclass cost 2.7-3.8 µs to make
    from a row against 0.4-0.7 µs for a tuple (timeit, 2026-12-03)."""

    id: str  # the envelope's id
    kind: str  # FOLLOW, UNFOLLOW, INTERACTION, REPLY, BROADCAST or OTHER
    type: str  # the envelope's type
    at: datetime  # aware UTC, from occurred_at
    day: str  # tenant-local "YYYY-MM-DD"
    hour: int  # tenant-local, 0-23
    weekday: int  # tenant-local, Monday 0
    openid: str
    key: str | None = None  # click/view: the menu key; subscribe: the channel scene
    via: str | None = None  # reply.sent: "passive" or "customer_service"
    answers: str | None = None  # reply.sent: the id of the event answered
    rule_id: str | None = None  # reply.sent
    broadcast_id: str | None = None  # broadcast.submitted
    run_id: str | None = None  # broadcast.submitted

    def to_doc(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "kind": self.kind,
            "type": self.type,
            "at": self.at,
            "day": self.day,
            "hour": self.hour,
            "weekday": self.weekday,
            "openid": self.openid,
            "key": self.key,
            "via": self.via,
            "answers": self.answers,
            "rule_id": self.rule_id,
            "broadcast_id": self.broadcast_id,
            "run_id": self.run_id,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Fact:
        """The fact of a stored document; other fields (a tenant id, ...) are ignored and
        a naive ``at`` (how a driver without ``tz_aware`` returns it) is read as UTC."""
        at: datetime = doc["at"]
        return cls(
            id=doc["_id"],
            kind=doc["kind"],
            type=doc["type"],
            at=at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC),
            day=doc["day"],
            hour=doc["hour"],
            weekday=doc["weekday"],
            openid=doc["openid"],
            **{name: doc.get(name) for name in _OPTIONAL},
        )


_OPTIONAL = ("key", "via", "answers", "rule_id", "broadcast_id", "run_id")
# A fact as a row of plain values, in this order (``at`` as ISO 8601): how the inbox
# carries it, many to a document (a database pays per document and per field).
ROW = ("_id", "kind", "type", "at", "day", "hour", "weekday", "openid", *_OPTIONAL)
Row = list[str | int | None]


def to_row(fact: Fact) -> Row:
    """The fact as a row in ``ROW``'s order (once per envelope: built directly)."""
    return [
        fact.id,
        fact.kind,
        fact.type,
        fact.at.isoformat(),
        fact.day,
        fact.hour,
        fact.weekday,
        fact.openid,
        fact.key,
        fact.via,
        fact.answers,
        fact.rule_id,
        fact.broadcast_id,
        fact.run_id,
    ]


def fact_of_row(row: Sequence[Any]) -> Fact:
    """The fact of a row made by :func:`to_row` (as the raw log's leaves keep them)."""
    id_, kind, type_, at, day, hour, weekday, openid, key, via, answers, rule, bid, run = row
    at = datetime.fromisoformat(at)
    return Fact(id_, kind, type_, at, day, hour, weekday, openid, key, via, answers, rule, bid, run)


def fact_of(envelope: Envelope[Any], timezone: str) -> Fact | None:
    """The fact of ``envelope`` in the tenant's ``timezone``, or None for what analytics
    does not keep (``reply.fallback``, ``broadcast.finished``, ``analytics.*``).
    A bad or naive ``occurred_at`` raises :class:`ValueError`."""
    payload = envelope.payload
    if isinstance(payload, WeChatMessage):
        kind, key = _wechat(envelope.type, payload)
        return _fact(envelope, timezone, kind, key=key)
    if isinstance(payload, ReplySent):
        return _fact(
            envelope,
            timezone,
            REPLY,
            via=payload.via,
            answers=payload.event_id,
            rule_id=payload.rule_id,
        )
    if isinstance(payload, BroadcastSubmitted):
        return _fact(
            envelope, timezone, BROADCAST, broadcast_id=payload.broadcast_id, run_id=payload.run_id
        )
    return None


def _wechat(type_: str, message: WeChatMessage) -> tuple[str, str | None]:
    """(kind, key) of a reader's message or a WeChat event."""
    family, _, name = type_.partition(".")
    if family == "msg":
        return INTERACTION, None
    if name == "subscribe":
        return FOLLOW, message.scene or None
    if name == "unsubscribe":
        return UNFOLLOW, None
    if name in INTERACTION_EVENTS:
        return INTERACTION, message.event_key if name in KEYED_EVENTS else None
    return OTHER, None


def _fact(envelope: Envelope[Any], timezone: str, kind: str, **extra: str | None) -> Fact:
    at = occurred(envelope.occurred_at)
    local = at.astimezone(ZoneInfo(timezone))
    return Fact(
        id=envelope.id,
        kind=kind,
        type=envelope.type,
        at=at,
        day=local.date().isoformat(),
        hour=local.hour,
        weekday=local.weekday(),
        openid=envelope.openid,
        **extra,
    )


def occurred(stamp: str) -> datetime:
    """An envelope time as aware UTC; :class:`ValueError` when it is not one."""
    at = parse_iso(stamp)  # ValueError on anything fromisoformat refuses
    if at.tzinfo is None:
        raise ValueError(f"occurred_at without a timezone: {stamp!r}")
    return at.astimezone(UTC)


def latest_follows(facts: Iterable[Fact]) -> dict[str, Fact]:
    """Each reader's latest follow or unfollow among ``facts``: the latest ``at`` wins,
    and of facts at the same second the last one given (as if they were applied one by
    one, each replacing a state no newer than itself)."""
    latest: dict[str, Fact] = {}
    for fact in facts:
        if fact.kind not in (FOLLOW, UNFOLLOW):
            continue
        held = latest.get(fact.openid)
        if held is None or held.at <= fact.at:
            latest[fact.openid] = fact
    return latest
