"""Analytics' API: ``/api/tenants/{id}/stats/{daily|activity|broadcasts}``, ``/send-time``,
``/health``, and the agency's ``/api/overview``. Every answer is also CSV, with
``Accept: text/csv`` or ``?format=csv``. Another tenant's key gets 404. ``POST
/api/tenants/{id}/rebuild {"from"}`` recomputes the derived state from the raw log
(``rebuild.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from services.analytics.csv_out import to_csv
from services.analytics.figures import HEALTH_ORDER
from services.analytics.rebuild import InvalidFrom, Rebuild
from services.analytics.reports import Reports
from services.analytics.store import AnalyticsStore
from shared.contracts.tenancy import DEFAULT_TIMEZONE, TENANT_ID_ROUTE
from shared.platform.auth import require_agency, require_tenant
from shared.platform.web import ApiError, read_json_object

TENANT = f"/api/tenants/{TENANT_ID_ROUTE}"
MAX_RANGE_DAYS = 366
DEFAULT_DAYS = 30
FORMATS = ("json", "csv")
DAY_COLUMNS = (
    "date",
    "new",
    "lost",
    "net",
    "cumulative",
    "active_readers",
    "messages",
    "rule_replies",
    "cs_replies",
    "unanswered",
    "messages_by_type",
    "menu_clicks",
)
OVERVIEW_COLUMNS = (
    "id",
    "name",
    "followers_known",
    "new_7d",
    "lost_7d",
    "active_rate_30d",
    "status",
)
CHANNEL_COLUMNS = ("channel", "new", "lost", "retained_7d_rate", "active_30d_rate")
IMPACT_COLUMNS = ("broadcast_id", "run_id", "submitted_at", "unfollows_24h", "baseline_24h", "lift")


def wants_csv(request: web.Request) -> bool:
    chosen = request.query.get("format")
    if chosen is not None and chosen not in FORMATS:
        raise ApiError(422, "invalid", "format: json or csv", field="format")
    return chosen == "csv" or (chosen is None and "text/csv" in request.headers.get("Accept", ""))


def answer(
    request: web.Request, body: Any, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> web.Response:
    if wants_csv(request):
        return web.Response(text=to_csv(rows, columns), content_type="text/csv")
    return web.json_response(body)


def day_of(request: web.Request, name: str, default: date) -> date:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        raise ApiError(422, "invalid", f"{name}: a date, YYYY-MM-DD", field=name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "invalid", f"{name}: not a calendar date", field=name) from None


@dataclass(frozen=True, slots=True)
class AnalyticsApi:
    store: AnalyticsStore
    reports: Reports
    now: Callable[[], datetime]
    fresh: Callable[[str], bool]  # True: events came since the tenant's last refresh
    rebuilds: Rebuild

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(TENANT + "/stats/daily", self.daily),
            web.get(TENANT + "/stats/activity", self.activity),
            web.get(TENANT + "/stats/broadcasts", self.broadcasts),
            web.get(TENANT + "/stats/channels", self.channels),
            web.get(TENANT + "/send-time", self.send_time),
            web.get(TENANT + "/health", self.health),
            web.get("/api/overview", self.overview),
            web.post(TENANT + "/rebuild", self.rebuild),
        ]

    async def tenant_of(self, request: web.Request) -> tuple[str, str]:
        tenant_id = request.match_info["tenant_id"]
        require_tenant(request, tenant_id)
        doc = await self.store.tenant(tenant_id)
        if doc is None:
            raise ApiError(404, "not_found", f"no tenant {tenant_id}")
        wants_csv(request)  # a bad format is refused before any work
        return tenant_id, str(doc.get("timezone") or DEFAULT_TIMEZONE)

    async def daily(self, request: web.Request) -> web.Response:
        tenant_id, timezone = await self.tenant_of(request)
        first, last = self._range(request, timezone)
        days = [d.to_json() for d in await self.reports.daily(tenant_id, timezone, first, last)]
        return answer(request, {"timezone": timezone, "days": days}, days, DAY_COLUMNS)

    async def activity(self, request: web.Request) -> web.Response:
        tenant_id, timezone = await self.tenant_of(request)
        window = await self.reports.window(tenant_id, timezone)
        body = await self.reports.activity(tenant_id, window)
        return answer(request, body, [body], list(body))

    async def channels(self, request: web.Request) -> web.Response:
        tenant_id, timezone = await self.tenant_of(request)
        first, last = self._range(request, timezone)
        rows = await self.reports.channels(tenant_id, timezone, first, last)
        return answer(request, {"channels": rows}, rows, CHANNEL_COLUMNS)

    def _range(self, request: web.Request, timezone: str) -> tuple[date, date]:
        """``from`` and ``to`` (default: the last 30 days), at most a year apart."""
        last = day_of(request, "to", self.reports.today(timezone))
        back = min(DEFAULT_DAYS - 1, (last - date.min).days)  # 0001-01-01 has no days before
        first = day_of(request, "from", last - timedelta(days=back))
        if first > last:
            raise ApiError(422, "invalid", "from: after to", field="from")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise ApiError(422, "invalid", f"from: at most {MAX_RANGE_DAYS} days", field="from")
        return first, last

    async def broadcasts(self, request: web.Request) -> web.Response:
        tenant_id, _ = await self.tenant_of(request)
        rows = sorted(
            (_jsonable(doc) for doc in await self.store.impacts(tenant_id)),
            key=lambda row: str(row["submitted_at"]),
        )
        return answer(request, {"broadcasts": rows}, rows, IMPACT_COLUMNS)

    async def send_time(self, request: web.Request) -> web.Response:
        tenant_id, timezone = await self.tenant_of(request)
        window = await self.reports.window(tenant_id, timezone)
        advice, grid = self.reports.send_time(window)
        body = {**advice.to_json(), "timezone": timezone, "by_hour_of_week": grid}
        rows = [
            {"weekday": n, **{f"h{h:02d}": c for h, c in enumerate(row)}}
            for n, row in enumerate(grid)
        ]
        return answer(request, body, rows, ["weekday", *(f"h{h:02d}" for h in range(24))])

    async def health(self, request: web.Request) -> web.Response:
        tenant_id, timezone = await self.tenant_of(request)
        window = await self.reports.window(tenant_id, timezone)
        body = await self.reports.health(tenant_id, window)
        return answer(request, body, [body], list(body))

    async def overview(self, request: web.Request) -> web.Response:
        principal = require_agency(request)
        wants_csv(request)
        rows = []
        for tenant in await self.store.tenants():
            tenant_id = str(tenant["_id"])
            if not principal.sees_tenant(tenant_id):
                continue
            row = None if self.fresh(tenant_id) else await self.store.state(tenant_id, "summary")
            if row is None:  # changed since its refresh, or never refreshed: computed now
                timezone = str(tenant.get("timezone") or DEFAULT_TIMEZONE)
                row = await self.reports.summary(tenant_id, str(tenant.get("name", "")), timezone)
            rows.append({k: row.get(k) for k in OVERVIEW_COLUMNS} | {"name": tenant.get("name")})
        rows.sort(key=lambda r: (HEALTH_ORDER.get(str(r["status"]), 9), str(r["id"])))
        return answer(request, {"tenants": rows}, rows, OVERVIEW_COLUMNS)

    async def rebuild(self, request: web.Request) -> web.Response:
        tenant_id, timezone = await self.tenant_of(request)
        body = await read_json_object(request)
        if "from" not in body:
            raise ApiError(422, "invalid", "from: required, a date YYYY-MM-DD", field="from")
        if set(body) - {"from"}:
            raise ApiError(422, "invalid", "from only", field="from")
        try:
            first = self.rebuilds.first_day(body["from"], timezone)
        except InvalidFrom as exc:
            raise ApiError(422, "invalid", str(exc), field="from") from None
        try:
            done = await self.rebuilds.run(tenant_id, first)
        except LookupError:  # offboarded meanwhile
            raise ApiError(404, "not_found", f"no tenant {tenant_id}") from None
        return web.json_response(done.to_json())


def _jsonable(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
        for k, v in doc.items()
        if k != "_id"
    }
