"""The agency overview: every account, worst health first, as analytics' ``/api/overview``
orders them, each with its status badge and links to its pages; and a picker that goes to
an account's charts. Agency keys only (a tenant key gets the 404 page).

The shaping is pure (``rows_of``, ``percent``); the handlers load, shape and render."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.gateway.console.i18n import Text
from services.gateway.console.numbers import percent
from services.gateway.console.web import PREFIX, agency_only, call, render
from shared.contracts.tenancy import TENANT_ID_RE

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
TEXT: Text = {
    "overview.title": ("全部公众号", "All accounts"),
    "overview.lead": (
        "按健康状况排列，最需要关注的在前。",
        "Ordered by health: the accounts that need attention first.",
    ),
    "overview.caption": ("公众号健康状况", "Accounts by health"),
    "overview.account": ("公众号", "Account"),
    "overview.followers": ("已知粉丝", "Known followers"),
    "overview.new_7d": ("7 日新增", "New (7 days)"),
    "overview.lost_7d": ("7 日流失", "Lost (7 days)"),
    "overview.active_rate": ("30 日活跃率", "Active rate (30 days)"),
    "overview.status": ("状态", "Status"),
    "overview.pages": ("页面", "Pages"),
    "overview.status.dormant": ("沉寂", "Dormant"),
    "overview.status.declining": ("下滑", "Declining"),
    "overview.status.no_data": ("暂无数据", "No data"),
    "overview.status.active": ("活跃", "Active"),
    "overview.empty": ("还没有接入任何公众号。", "No accounts yet."),
    "overview.add": ("接入第一个公众号", "Add the first account"),
    "overview.pick": ("打开", "Open"),
    "overview.count": ("个公众号", "accounts"),
}
