"""The charts page: analytics' answers about one account, shaped into chart series
(``charts_series``, ``charts_view``: pure) and drawn in the browser by ``static/charts.js``
with uPlot. Every chart also has its figures as text (a summary line and a table), as a
canvas is invisible to a screen reader."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web

from services.gateway.console.charts_text import TEXT
from services.gateway.console.charts_view import Answers, page_context, range_of, span
from services.gateway.console.web import call, render, tenant_of

__all__ = ["ROUTES", "TEXT"]

WHOLE = ("/stats/activity", "/stats/broadcasts", "/send-time", "/health")


async def charts_page(request: web.Request) -> web.StreamResponse:
    tenant_id = tenant_of(request)
    chosen = range_of(request.query.get("days"))
    answers = await fetch(request, tenant_id, chosen, now=datetime.now(UTC))
    return render(request, "charts.html", page_context(answers, chosen))


async def fetch(request: web.Request, tenant_id: str, days: int, *, now: datetime) -> Answers:
    """Every answer the page needs, with the viewer's key (two rounds: the account's
    timezone, from send-time, sets the range)."""
    base = f"/api/tenants/{tenant_id}"
    activity, broadcasts, send_time, health = await asyncio.gather(
        *(call(request, "GET", "analytics", base + p) for p in WHOLE)
    )
    first, last = span(now, str(send_time["timezone"]), days)
    query = {"from": first.isoformat(), "to": last.isoformat()}
    daily, by_channel = await asyncio.gather(
        call(request, "GET", "analytics", base + "/stats/daily", query=query),
        call(request, "GET", "analytics", base + "/stats/channels", query=query),
    )
    return Answers(
        days=daily["days"],
        activity=activity,
        channels=by_channel["channels"],
        broadcasts=broadcasts["broadcasts"],
        send_time=send_time,
        health=health,
    )


ROUTES: list[web.RouteDef] = [web.get("/tenants/{tenant_id}/charts", charts_page)]
