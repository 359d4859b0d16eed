"""The agency overview: every account, worst health first, as analytics' ``/api/overview``
orders them, each with its status badge and links to its pages; and a picker that goes to
an account's charts. Agency keys only (a tenant key gets the 404 page).

The shaping is pure (``rows_of``, ``percent``); the handlers load, shape and render."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.gateway.console.numbers import percent
from services.gateway.console.overview_text import TEXT
from services.gateway.console.web import PREFIX, agency_only, call, render
from shared.contracts.tenancy import TENANT_ID_RE

__all__ = ["ROUTES", "TEXT"]

STATUSES = ("dormant", "declining", "no_data", "active")  # analytics' health, worst first
PAGES = ("charts", "rules", "broadcasts", "inbox")  # an account's pages, in the nav's order


# Pure: analytics' JSON shaped for the page.


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    name: str
    followers_known: int
    new_7d: int
    lost_7d: int
    active_rate: str  # "12.5%", or "—" without data
    status: str  # one of STATUSES


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def rows_of(body: Mapping[str, Any]) -> list[Row]:
    """The overview's rows, in the order analytics gives them (worst health first)."""
    rows = []
    for tenant in body.get("tenants") or []:
        status = str(tenant.get("status"))
        rows.append(
            Row(
                id=str(tenant["id"]),
                name=str(tenant.get("name") or tenant["id"]),
                followers_known=_count(tenant.get("followers_known")),
                new_7d=_count(tenant.get("new_7d")),
                lost_7d=_count(tenant.get("lost_7d")),
                active_rate=percent(tenant.get("active_rate_30d")),
                status=status if status in STATUSES else "no_data",
            )
        )
    return rows


# Handlers.


async def overview(request: web.Request) -> web.StreamResponse:
    agency_only(request)
    rows = rows_of(await call(request, "GET", "analytics", "/api/overview"))
    return render(request, "overview.html", {"rows": rows, "pages": PAGES})


async def pick(request: web.Request) -> web.StreamResponse:
    """The picker's answer: the chosen account's charts."""
    agency_only(request)
    tenant_id = request.query.get("tenant", "")
    if not TENANT_ID_RE.fullmatch(tenant_id):
        raise web.HTTPSeeOther(f"{PREFIX}/overview")
    raise web.HTTPSeeOther(f"{PREFIX}/tenants/{tenant_id}/charts")


ROUTES: list[web.RouteDef] = [
    web.get("/overview", overview),
    web.get("/overview/pick", pick),
]
