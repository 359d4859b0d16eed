"""The inbox page's shaping, pure: readers' messages as rows with the time left in
WeChat's 48-hour window and who acted, the filters, the reply and close bodies, and the
template's context."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.gateway.console.backend import BackendError

FILTERS = ("open", "answered", "closed", "all")
EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
NOTICES = ("answered", "closed")
CODES = (
    "not_open",
    "busy",
    "window_closed",
    "quota_exhausted",
    "wechat_refused",
    "wechat_unavailable",
    "delivery_unknown",
)


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    openid: str
    type: str
    text: str
    received_at: datetime | None  # local to the tenant
    status: str
    window: tuple[int, int] | None  # hours, minutes left; None: closed
    answered_by: str
    closed_by: str
    reply: str
    note: str
    error: str

    @property
    def answerable(self) -> bool:
        return self.status == "open" and self.window is not None

    @property
    def closable(self) -> bool:
        return self.status in ("open", "failed")


def window_parts(seconds: int) -> tuple[int, int] | None:
    """Hours and minutes left in the window; None once it has closed."""
    if seconds <= 0:
        return None
    hours, minutes = divmod(seconds // 60, 60)
    return hours, minutes


def caller_name(caller: Mapping[str, Any] | None) -> str:
    """Who acted: the key's name, else its id ("admin" for the admin key)."""
    if not caller:
        return ""
    if caller.get("scope") == "admin":
        return "admin"
    return str(caller.get("name") or caller.get("key_id") or "?")


def message_text(message: Mapping[str, Any]) -> str:
    for key in ("content", "title", "label", "recognition", "url", "media_id", "pic_url"):
        if message.get(key):
            return str(message[key])
    return ""


def row_of(item: Mapping[str, Any], zone: ZoneInfo) -> Row:
    received = item.get("occurred_at") or item.get("received_at")  # the window counts from it
    reply = item.get("reply") or {}
    return Row(
        id=str(item["id"]),
        openid=str(item.get("openid", "")),
        type=str(item.get("type", "")),
        text=message_text(item.get("message") or {}),
        received_at=datetime.fromisoformat(received).astimezone(zone) if received else None,
        status=str(item.get("status", "open")),
        window=window_parts(int(item.get("window_left_seconds") or 0)),
        answered_by=caller_name(item.get("answered_by")),
        closed_by=caller_name(item.get("closed_by")),
        reply=message_text(reply) if isinstance(reply, Mapping) else "",
        note=str(item.get("note") or ""),
        error=str(item.get("error") or ""),
    )


@dataclass(frozen=True, slots=True)
class Pages:
    before: str | None  # this page starts after that message; None: the newest page
    older: str | None  # the API's ``next_before``: the next page starts after it

    def older_query(self, shown: str) -> str | None:
        return None if self.older is None else f"status={shown}&before={self.older}"


def before_of(query: Mapping[str, str]) -> str | None:
    """The message a page starts after; anything that is not an event id is ignored."""
    before = query.get("before")
    return before if before is not None and EVENT_ID.fullmatch(before) else None


def status_of(query: Mapping[str, str]) -> str:
    status = query.get("status", "open")
    return status if status in FILTERS else "open"


def reply_body(form: Mapping[str, str]) -> dict[str, Any]:
    """The reply API's JSON: a text, and the team's note when there is one."""
    note = form.get("note", "").strip()
    spec = {"type": "text", "content": form.get("reply", "")}
    return {"reply": spec, **({"note": note} if note else {})}


def close_body(form: Mapping[str, str]) -> dict[str, Any]:
    note = form.get("note", "").strip()
    return {"note": note} if note else {}


def after(action: str) -> str:
    """The page's query after a ``reply`` or a ``close``: where the message went now."""
    if action == "reply":
        return "status=answered&notice=answered"
    return "status=open&notice=closed"


def page_context(
    items: Iterable[Mapping[str, Any]],
    zone: ZoneInfo,
    shown: str,
    notice: str | None,
    failed: tuple[str, BackendError] | None,
    pages: Pages = Pages(None, None),
) -> dict[str, Any]:
    """``inbox.html``'s context: the rows, the filter, the links to older and newest
    messages, and a refusal beside its message."""
    return {
        "older": pages.older_query(shown),
        "newest": f"status={shown}" if pages.before is not None else None,
        "rows": [row_of(item, zone) for item in items],
        "shown": shown,
        "filters": FILTERS,
        "zone": str(zone),
        "notice": notice if notice in NOTICES else None,
        "failed_id": failed[0] if failed else None,
        "failed": failed[1] if failed else None,
        "failed_code": failed[1].code if failed and failed[1].code in CODES else None,
    }
