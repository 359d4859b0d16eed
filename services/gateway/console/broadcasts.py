"""The console's broadcasts page: a month calendar of a tenant's runs in its timezone, the
quota's headroom, the runs listed with their warnings and results, and forms to schedule,
preview and cancel (the scheduler's API does the work and the refusing).

The shaping is pure (``broadcasts_view``); the handlers load, shape and render."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from services.gateway.console.backend import BackendError
from services.gateway.console.broadcasts_runs import instant
from services.gateway.console.broadcasts_text import TEXT
from services.gateway.console.broadcasts_view import (
    Shown,
    back_to,
    create_body,
    page_context,
    preview_notice,
)
from services.gateway.console.forms import submit
from services.gateway.console.tenancy import tenant_zone
from services.gateway.console.web import call, form_of, redirect, render, tenant_of

__all__ = ["ROUTES", "TEXT"]

PAGE, PAGES = 200, 5  # the API's largest page; pages read at most


async def page(request: web.Request) -> web.StreamResponse:
    return await _page(request, form={}, error=None, status=200)


async def schedule(request: web.Request) -> web.StreamResponse:
    tenant_id, form = tenant_of(request), await form_of(request)
    path, body = f"/api/tenants/{tenant_id}/broadcasts", create_body(form)
    made, refused = await submit(request, "POST", "scheduler", path, json=body, refused=(409, 422))
    if refused is not None:
        return await _page(request, form=form, error=refused, status=refused.status)
    month = f"{instant(str(made['next_run_at']), await tenant_zone(request, tenant_id)):%Y-%m}"
    return redirect(f"{_self(tenant_id)}?month={month}&notice=created", request)


async def cancel(request: web.Request) -> web.StreamResponse:
    tenant_id, bid = tenant_of(request), request.match_info["broadcast_id"]
    await call(request, "POST", "scheduler", f"/api/tenants/{tenant_id}/broadcasts/{bid}/cancel")
    return redirect(
        f"{_self(tenant_id)}?{back_to(await form_of(request))}notice=cancelled", request
    )


async def preview(request: web.Request) -> web.StreamResponse:
    tenant_id, bid = tenant_of(request), request.match_info["broadcast_id"]
    form = await form_of(request)
    path = f"/api/tenants/{tenant_id}/broadcasts/{bid}/preview"
    body = {"openids": [form.get("openid", "").strip()]}
    notice = preview_notice(await call(request, "POST", "scheduler", path, json=body))
    return redirect(f"{_self(tenant_id)}?{back_to(form)}notice={notice}", request)


async def _page(
    request: web.Request, *, form: Mapping[str, str], error: BackendError | None, status: int
) -> web.Response:
    tenant_id = tenant_of(request)
    zone = await tenant_zone(request, tenant_id)
    quota = await call(request, "GET", "scheduler", f"/api/tenants/{tenant_id}/quota")
    listed = await _broadcasts(request, tenant_id)
    shown = Shown(request.query.get("month"), request.query.get("notice"), form, error)
    context = page_context(listed, quota, zone, shown, now=datetime.now(UTC))
    return render(request, "broadcasts.html", context, status=status)


async def _broadcasts(request: web.Request, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's broadcasts with their runs (up to ``PAGES`` pages, oldest first): one
    call a page."""
    base = f"/api/tenants/{tenant_id}/broadcasts"
    listed: list[dict[str, Any]] = []
    query = {"limit": str(PAGE), "runs": "true"}
    for _ in range(PAGES):
        page = await call(request, "GET", "scheduler", base, query=query)
        listed += page["broadcasts"]
        if not page["next_after"]:
            break
        query = {**query, "after": page["next_after"]}
    return listed


def _self(tenant_id: str) -> str:
    return f"/console/tenants/{tenant_id}/broadcasts"


BID = "{broadcast_id:b[0-9a-f]{20}}"
ROUTES: list[web.RouteDef] = [
    web.get("/tenants/{tenant_id}/broadcasts", page),
    web.post("/tenants/{tenant_id}/broadcasts", schedule),
    web.post(f"/tenants/{{tenant_id}}/broadcasts/{BID}/cancel", cancel),
    web.post(f"/tenants/{{tenant_id}}/broadcasts/{BID}/preview", preview),
]
