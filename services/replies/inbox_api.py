"""``/api/tenants/{id}/inbox``: readers' messages no rule answered, newest first; a reply to
one through the customer-service API; closing one. The same keys, isolation and errors
as the rules API (``api.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from services.replies.api import known_tenant
from services.replies.inbox import FILTERS, MAX_NOTE, OPEN, Caller, NotOpen, WindowClosed, public
from services.replies.inbox_replies import (
    Answer,
    Busy,
    InboxReplies,
    MaybeSent,
    NoItem,
    NotSent,
    QuotaExhausted,
)
from services.replies.inbox_store import InboxStore, UnknownCursor
from services.replies.rules import InvalidRule
from services.replies.validation import validate_reply
from shared.contracts.reply import Reply
from shared.contracts.tenancy import TENANT_ID_ROUTE
from shared.platform.auth import principal_of
from shared.platform.directory import TenantDirectory
from shared.platform.web import ApiError, read_json_object

EVENT_ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"
EVENT_ID_RE = re.compile(EVENT_ID_PATTERN)
INBOX = f"/api/tenants/{TENANT_ID_ROUTE}/inbox"
ITEM = INBOX + "/{event_id:" + EVENT_ID_PATTERN[1:-1] + "}"
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {message}", field=field)


def page_query(query: Mapping[str, str]) -> tuple[str | None, int, str | None]:
    """``status`` (None: all), ``limit`` and ``before`` of a listing."""
    status = query.get("status", OPEN)
    if status not in FILTERS:
        raise invalid("status", f"one of {', '.join(FILTERS)}")
    raw = query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid("limit", f"an integer from 1 to {MAX_LIMIT}")
    before = query.get("before")
    if before is not None and not EVENT_ID_RE.fullmatch(before):
        raise invalid("before", "the id of the last message of the previous page")
    return (None if status == "all" else status), int(raw), before


def note_of(body: Mapping[str, Any]) -> str | None:
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise invalid("note", f"a string of at most {MAX_NOTE} characters")
    return note


def reply_of(body: Mapping[str, Any]) -> Reply:
    for key in sorted(set(body) - {"reply", "note"}):
        raise invalid(key, 'unknown field; send "reply" and optionally "note"')
    if "reply" not in body:
        raise invalid("reply", "a reply spec is required")
    try:
        return validate_reply(body["reply"])
    except InvalidRule as exc:
        raise invalid(exc.field, exc.message) from None


def refusal(exc: Exception) -> ApiError:
    """The answer to an inbox reply or close that did not happen."""
    if isinstance(exc, NoItem):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, NotOpen | Busy):
        return ApiError(409, "not_open" if isinstance(exc, NotOpen) else "busy", str(exc))
    if isinstance(exc, WindowClosed | QuotaExhausted):
        code = "window_closed" if isinstance(exc, WindowClosed) else "quota_exhausted"
        return ApiError(422, code, str(exc))
    if isinstance(exc, NotSent) and exc.retry:
        return ApiError(503, "wechat_unavailable", str(exc), headers={"Retry-After": "10"})
    if isinstance(exc, NotSent):
        return ApiError(422, "wechat_refused", str(exc))
    return ApiError(502, "delivery_unknown", str(exc))


REFUSALS = (NoItem, NotOpen, Busy, WindowClosed, QuotaExhausted, NotSent, MaybeSent)


def caller(request: web.Request) -> Caller:
    principal = principal_of(request)
    return Caller(principal.scope, principal.key_id, principal.name)


@dataclass(frozen=True, slots=True)
class InboxApi:
    store: InboxStore
    replies: InboxReplies
    directory: TenantDirectory
    clock: Callable[[], datetime]

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(INBOX, self.list),
            web.post(ITEM + "/reply", self.reply),
            web.post(ITEM + "/close", self.close),
        ]

    async def list(self, request: web.Request) -> web.Response:
        tenant_id = await known_tenant(request, self.directory)
        status, limit, before = page_query(request.query)
        try:
            docs, more = await self.store.page(tenant_id, status=status, limit=limit, before=before)
        except UnknownCursor:
            raise invalid("before", f"no message {before} (purged since?)") from None
        now = self.clock()
        return web.json_response({"items": [public(d, now) for d in docs], "next_before": more})

    async def reply(self, request: web.Request) -> web.Response:
        tenant_id = await known_tenant(request, self.directory)
        body = await read_json_object(request)
        reply, note = reply_of(body), note_of(body)
        answer = Answer(tenant_id, request.match_info["event_id"], reply, caller(request), note)
        try:
            return web.json_response(await self.replies.answer(answer))
        except REFUSALS as exc:
            raise refusal(exc) from None

    async def close(self, request: web.Request) -> web.Response:
        """``{"note"?}``; a request without a body closes without a note."""
        tenant_id = await known_tenant(request, self.directory)
        body = await read_json_object(request) if request.body_exists else {}
        for key in sorted(set(body) - {"note"}):
            raise invalid(key, 'unknown field; send "note" or nothing')
        event_id, note = request.match_info["event_id"], note_of(body)
        try:
            item = await self.replies.close(tenant_id, event_id, caller(request), note)
        except REFUSALS as exc:
            raise refusal(exc) from None
        return web.json_response(item)
