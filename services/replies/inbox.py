"""The reader inbox, pure: readers' messages that no rule answered, for a person to answer
through the customer-service API within WeChat's window, or to close.

An item is ``open`` when recorded; ``replying`` while an answer is on its way; then
``answered`` (who, when, with what, a note) or, when WeChat's answer was lost and the
message may have arrived, ``failed`` (it is never sent again). An open or failed item may
be ``closed`` with a note; closing a closed one changes nothing. Only messages go in
(``msg.*``): an event's window (a click, a scan) is a minute, too short for a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.contracts.envelope import Envelope, iso, parse_iso
from shared.contracts.messages import WeChatMessage

OPEN, REPLYING, ANSWERED, CLOSED, FAILED = "open", "replying", "answered", "closed", "failed"
STATUSES = (OPEN, REPLYING, ANSWERED, CLOSED, FAILED)
FILTERS = (*STATUSES, "all")
MAX_NOTE = 1024
# What a person needs to read a message, of the fields WeChat sends (snake_cased).
KEPT_FIELDS = (
    "content",
    "media_id",
    "pic_url",
    "format",
    "recognition",
    "thumb_media_id",
    "location_x",
    "location_y",
    "scale",
    "label",
    "title",
    "description",
    "url",
)


class NotOpen(Exception):
    """The item is past answering (or closing): answered, closed, failed or replying."""

    def __init__(self, event_id: str, status: str) -> None:
        super().__init__(f"message {event_id} is {status}")
        self.status = status


class WindowClosed(Exception):
    """WeChat's window after the reader's message has closed: no message may go."""

    def __init__(self, ends_at: datetime) -> None:
        super().__init__(f"the reader's window closed at {iso(ends_at)}")


def new_item(
    event: Envelope[WeChatMessage], window: timedelta, now: datetime
) -> dict[str, Any] | None:
    """The inbox document for an unanswered ``event`` (None: not a reader's message)."""
    if event.kind != "msg":
        return None
    fields = event.payload.fields
    occurred = parse_iso(event.occurred_at)
    return {
        "_id": event.id,
        "openid": event.openid,
        "type": event.type,
        "message": {k: fields[k] for k in KEPT_FIELDS if isinstance(fields.get(k), str | int)},
        "occurred_at": occurred,
        "received_at": parse_iso(event.received_at),
        "recorded_at": now,
        "window_ends_at": occurred + window,
        "status": OPEN,
    }


def window_left(ends_at: datetime, now: datetime) -> int:
    """Whole seconds left in the window at ``now`` (0 once it has closed)."""
    return max(0, int((ends_at - now).total_seconds()))


def check_answerable(event_id: str, status: str, ends_at: datetime, now: datetime) -> None:
    """Raises unless a reply may go now (``replying`` goes on, to settle a stuck answer)."""
    if status not in (OPEN, REPLYING):
        raise NotOpen(event_id, status)
    if now > ends_at:
        raise WindowClosed(ends_at)


def to_close(event_id: str, status: str) -> bool:
    """Whether closing changes the item (False: closed already); raises for one answered or
    being answered."""
    if status in (ANSWERED, REPLYING):
        raise NotOpen(event_id, status)
    return status != CLOSED


def public(doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """An item as the API answers it, its window counted at ``now``."""

    def when(name: str) -> str | None:
        value = doc.get(name)
        return iso(value) if isinstance(value, datetime) else None

    ends_at = doc.get("window_ends_at")
    return {
        "id": str(doc["_id"]),
        "openid": doc.get("openid", ""),
        "type": doc.get("type", ""),
        "message": doc.get("message", {}),
        "status": doc.get("status", OPEN),
        "occurred_at": when("occurred_at"),
        "received_at": when("received_at"),
        "window_ends_at": when("window_ends_at"),
        "window_left_seconds": window_left(ends_at, now) if isinstance(ends_at, datetime) else 0,
        "answered_by": doc.get("answered_by"),
        "answered_at": when("answered_at"),
        "reply": doc.get("reply"),
        "note": doc.get("note"),
        "error": doc.get("error"),
        "closed_by": doc.get("closed_by"),
        "closed_at": when("closed_at"),
    }


@dataclass(frozen=True, slots=True)
class Caller:
    """Who acts on an item: the API key's scope, id and name (``answered_by``)."""

    scope: str
    key_id: str
    name: str = ""

    def to_json(self) -> dict[str, str]:
        return {"scope": self.scope, "key_id": self.key_id, "name": self.name}
