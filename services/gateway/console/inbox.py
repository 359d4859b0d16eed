"""The console's inbox page: readers' messages no rule answered, newest first, with the
time left in WeChat's 48-hour window; a reply box (a text, sent once through the
customer-service API by the replies service) and a close button on each open one.

The shaping is pure (``inbox_view``); the handlers load, shape and render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.gateway.console.backend import BackendError
from services.gateway.console.forms import submit
from services.gateway.console.inbox_text import TEXT
from services.gateway.console.inbox_view import (
    Pages,
    after,
    before_of,
    close_body,
    page_context,
    reply_body,
    status_of,
)
from services.gateway.console.tenancy import tenant_zone
from services.gateway.console.web import call, form_of, redirect, render, tenant_of

__all__ = ["ROUTES", "TEXT"]

REFUSED = (409, 422, 502, 503)  # the API's refusals, shown on the page
PAGE = 50  # messages a page


async def page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def reply(request: web.Request) -> web.StreamResponse:
    return await _act(request, "reply", reply_body(await form_of(request)))


async def close(request: web.Request) -> web.StreamResponse:
    return await _act(request, "close", close_body(await form_of(request)))


async def _act(request: web.Request, action: str, body: dict[str, Any]) -> web.StreamResponse:
    tenant_id, event_id = tenant_of(request), request.match_info["event_id"]
    path = f"/api/tenants/{tenant_id}/inbox/{event_id}/{action}"
    _, refused = await submit(request, "POST", "replies", path, json=body, refused=REFUSED)
    if refused is not None:
        return await _page(request, failed=(event_id, refused), status=refused.status)
    return redirect(f"/console/tenants/{tenant_id}/inbox?{after(action)}", request)


async def _page(
    request: web.Request, *, failed: tuple[str, BackendError] | None = None, status: int = 200
) -> web.Response:
    tenant_id = tenant_of(request)
    zone = await tenant_zone(request, tenant_id)
    shown, before = status_of(request.query), before_of(request.query)
    path = f"/api/tenants/{tenant_id}/inbox"
    query = {"status": shown, "limit": str(PAGE), **({"before": before} if before else {})}
    try:
        found = await call(request, "GET", "replies", path, query=query)
    except BackendError as exc:
        if before is None or exc.field != "before":
            raise
        # The message the page started after was purged since: the newest page instead.
        return redirect(f"/console/tenants/{tenant_id}/inbox?status={shown}", request)
    notice = request.query.get("notice")
    pages = Pages(before=before, older=found.get("next_before"))
    context = page_context(found["items"], zone, shown, notice, failed, pages)
    return render(request, "inbox.html", context, status=status)


ITEM = "/tenants/{tenant_id}/inbox/{event_id:[A-Za-z0-9_-]{1,64}}"
ROUTES: list[web.RouteDef] = [
    web.get("/tenants/{tenant_id}/inbox", page),
    web.post(ITEM + "/reply", reply),
    web.post(ITEM + "/close", close),
]
