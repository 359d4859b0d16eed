"""The agency API on the gateway: onboarding and listing tenants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from services.gateway.repository import Conflict, TenantRepository
from services.gateway.tenants import InvalidField, validate_new
from shared.web import ApiError, read_json_object, require_admin

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class TenantApi:
    repository: TenantRepository
    admin_key: str
    public_url: str

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/tenants", self.create), web.get("/api/tenants", self.list)]

    async def create(self, request: web.Request) -> web.Response:
        require_admin(request, self.admin_key)
        data = await read_json_object(request)
        try:
            tenant = validate_new(data)
        except InvalidField as exc:
            raise ApiError(422, "invalid", f"{exc.field}: {exc}", field=exc.field) from None
        try:
            view = await self.repository.create(tenant, now=datetime.now(UTC))
        except Conflict as exc:
            raise ApiError(409, "conflict", str(exc), field=exc.field) from None
        view.update(
            webhook_url=f"{self.public_url}/wx/{tenant.id}",
            token=tenant.token,
            encoding_aes_key=tenant.encoding_aes_key,
        )
        return web.json_response(view, status=201)

    async def list(self, request: web.Request) -> web.Response:
        require_admin(request, self.admin_key)
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            raise ApiError(422, "invalid", "limit: must be an integer", field="limit") from None
        if not 1 <= limit <= MAX_PAGE:
            raise ApiError(422, "invalid", f"limit: must be 1 to {MAX_PAGE}", field="limit")
        items = await self.repository.list(limit=limit, after=request.query.get("after"))
        next_after = items[-1]["id"] if len(items) == limit else None
        for item in items:
            item["webhook_url"] = f"{self.public_url}/wx/{item['id']}"
        return web.json_response({"items": items, "next_after": next_after})
