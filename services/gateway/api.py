"""The agency API on the gateway: the tenant lifecycle (API keys are in ``keys_api.py``).

Agency-wide routes need an agency (or the admin) key; a tenant key sees its own
tenant only, and gets 404 for any other, so that existence is not leaked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web

from services.gateway.repository import Conflict, Contended, TenantRepository
from services.gateway.tenants import InvalidField, validate_changes, validate_new
from shared.contracts.tenancy import TENANT_ID_ROUTE
from shared.platform.auth import require_agency, require_tenant
from shared.platform.control import ControlBus
from shared.platform.key_store import KeyStore
from shared.platform.storage import PyMongoError
from shared.platform.web import ApiError, read_json_object

logger = logging.getLogger(__name__)
MAX_PAGE = 200
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TenantApi:
    repository: TenantRepository
    keys: KeyStore
    control: ControlBus
    public_url: str
    aes_key_grace: timedelta
    # An offboarded tenant's data: its database, then the gateway's records of its events
    finish_offboarding: Callable[[str], Awaitable[None]]

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/tenants", self.create),
            web.get("/api/tenants", self.list),
            web.get(f"/api/tenants/{TENANT_ID_ROUTE}", self.show),
            web.patch(f"/api/tenants/{TENANT_ID_ROUTE}", self.update),
            web.delete(f"/api/tenants/{TENANT_ID_ROUTE}", self.delete),
        ]

    def _url(self, tenant_id: str) -> str:
        return f"{self.public_url}/wx/{tenant_id}"

    async def create(self, request: web.Request) -> web.Response:
        require_agency(request)
        data = await read_json_object(request)
        tenant = _valid(validate_new, data)
        try:
            view = await self.repository.create(tenant, now=datetime.now(UTC))
        except Conflict as exc:
            raise ApiError(409, "conflict", str(exc), field=exc.field) from None
        await self.control.notify("tenant.created", tenant.id)
        view.update(
            webhook_url=self._url(tenant.id),
            token=tenant.token,
            encoding_aes_key=tenant.encoding_aes_key,
        )
        return web.json_response(view, status=201)

    async def list(self, request: web.Request) -> web.Response:
        require_agency(request)
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            raise ApiError(422, "invalid", "limit: must be an integer", field="limit") from None
        if not 1 <= limit <= MAX_PAGE:
            raise ApiError(422, "invalid", f"limit: must be 1 to {MAX_PAGE}", field="limit")
        items = await self.repository.list(limit=limit, after=request.query.get("after"))
        for item in items:
            item["webhook_url"] = self._url(item["id"])
        next_after = items[-1]["id"] if len(items) == limit else None
        return web.json_response({"items": items, "next_after": next_after})

    async def show(self, request: web.Request) -> web.Response:
        view = await visible_tenant(request, self.repository)
        return web.json_response({**view, "webhook_url": self._url(view["id"])})

    async def update(self, request: web.Request) -> web.Response:
        """Name, type, mode, timezone; rotation of token, EncodingAESKey and app secret.
        New secrets are answered once; every replica uses them from the next webhook."""
        tenant_id = (await visible_tenant(request, self.repository))["id"]
        changes = _valid(validate_changes, await read_json_object(request))
        try:
            view = await self.repository.update(
                tenant_id, changes, now=datetime.now(UTC), aes_key_grace=self.aes_key_grace
            )
        except Contended as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        if view is None:
            raise ApiError(404, "not_found", f"no tenant {tenant_id}")
        await self.control.notify("tenant.changed", tenant_id)
        shown = {k: v for k, v in changes.secrets.items() if k != "app_secret"}
        return web.json_response({**view, "webhook_url": self._url(tenant_id), **shown})

    async def delete(self, request: web.Request) -> web.Response:
        """Offboarding: its keys stop working, then its record goes, then its database and
        the gateway's records of its events. Once the record is gone the tenant is
        offboarded: every process hears so at once, and what the database fails after that
        is finished by the gateway's purge, from the note the repository wrote first,
        rather than answered with an error that a second DELETE, finding no tenant, could
        never mend."""
        tenant_id = (await visible_tenant(request, self.repository))["id"]  # 404 first: no leak
        require_agency(request)
        for key in await self.keys.list(tenant_id=tenant_id):
            await self.keys.revoke(key["_id"])
            await self.control.notify("key.revoked", key["_id"])
        await self.repository.delete(tenant_id, now=datetime.now(UTC))
        await self.control.notify("tenant.deleted", tenant_id)
        try:
            await self.finish_offboarding(tenant_id)
        except PyMongoError as exc:
            logger.warning(
                "tenant %s offboarded; its data goes with the next purge: %s",
                tenant_id,
                type(exc).__name__,
            )
        return web.Response(status=204)


async def visible_tenant(request: web.Request, repository: TenantRepository) -> dict[str, Any]:
    """The public view of the path's tenant; 404 when it is gone or not the key's."""
    tenant_id = request.match_info["tenant_id"]
    require_tenant(request, tenant_id)
    view = await repository.get(tenant_id)
    if view is None:
        raise ApiError(404, "not_found", f"no tenant {tenant_id}")
    return view


def _valid(validate: Callable[[dict[str, Any]], T], data: dict[str, Any]) -> T:
    try:
        return validate(data)
    except InvalidField as exc:
        raise ApiError(422, "invalid", f"{exc.field}: {exc}", field=exc.field) from None
