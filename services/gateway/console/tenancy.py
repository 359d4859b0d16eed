"""What several pages need to know about the tenant they show."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from services.gateway.console.web import call


async def tenant_zone(request: web.Request, tenant_id: str) -> ZoneInfo:
    """The tenant's timezone, from its record on the gateway (pages show times in it)."""
    tenant = await call(request, "GET", "gateway", f"/api/tenants/{tenant_id}")
    return ZoneInfo(str(tenant["timezone"]))
