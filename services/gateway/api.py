"""The agency API on the gateway: the tenant lifecycle and API keys.

Agency-wide routes need an agency (or the admin) key; a tenant key sees its own
tenant only, and gets 404 for any other, so that existence is not leaked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from services.gateway.repository import Conflict, TenantRepository
from services.gateway.tenants import InvalidField, validate_changes, validate_new
from shared.auth import KeyStore, public_key, require_admin, require_agency, require_tenant
from shared.control import ControlBus
from shared.web import ApiError, read_json_object

MAX_PAGE = 200
TENANT_ID = "{tenant_id:[a-z0-9][a-z0-9-]{1,40}}"


@dataclass(frozen=True, slots=True)
class TenantApi:
    repository: TenantRepository
    keys: KeyStore
    control: ControlBus
    public_url: str
    aes_key_grace: timedelta

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/tenants", self.create),
            web.get("/api/tenants", self.list),
            web.get(f"/api/tenants/{TENANT_ID}", self.show),
            web.patch(f"/api/tenants/{TENANT_ID}", self.update),
            web.delete(f"/api/tenants/{TENANT_ID}", self.delete),
            web.post(f"/api/tenants/{TENANT_ID}/keys", self.create_tenant_key),
            web.get(f"/api/tenants/{TENANT_ID}/keys", self.list_tenant_keys),
            web.delete(f"/api/tenants/{TENANT_ID}/keys/{{key_id}}", self.revoke_tenant_key),
            web.post("/api/keys", self.create_agency_key),
            web.get("/api/keys", self.list_agency_keys),
            web.delete("/api/keys/{key_id}", self.revoke_agency_key),
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

    async def _found(self, request: web.Request) -> dict[str, Any]:
        tenant_id = request.match_info["tenant_id"]
        require_tenant(request, tenant_id)
        view = await self.repository.get(tenant_id)
        if view is None:
            raise ApiError(404, "not_found", f"no tenant {tenant_id}")
        return view

    async def show(self, request: web.Request) -> web.Response:
        view = await self._found(request)
        return web.json_response({**view, "webhook_url": self._url(view["id"])})

    async def update(self, request: web.Request) -> web.Response:
        """Name, type, mode, timezone; rotation of token, EncodingAESKey and app secret.
        New secrets are answered once; every replica uses them from the next webhook."""
        tenant_id = (await self._found(request))["id"]
        changes = _valid(validate_changes, await read_json_object(request))
        view = await self.repository.update(
            tenant_id, changes, now=datetime.now(UTC), aes_key_grace=self.aes_key_grace
        )
        if view is None:
            raise ApiError(404, "not_found", f"no tenant {tenant_id}")
        await self.control.notify("tenant.changed", tenant_id)
        shown = {k: v for k, v in changes.secrets.items() if k != "app_secret"}
        return web.json_response({**view, "webhook_url": self._url(tenant_id), **shown})

    async def delete(self, request: web.Request) -> web.Response:
        tenant_id = (await self._found(request))["id"]  # 404 first: no leak
        require_agency(request)
        for key in await self.keys.list(tenant_id=tenant_id):
            await self.keys.revoke(key["_id"])
            await self.control.notify("key.revoked", key["_id"])
        await self.repository.delete(tenant_id)
        await self.control.notify("tenant.deleted", tenant_id)
        return web.Response(status=204)

    async def create_tenant_key(self, request: web.Request) -> web.Response:
        tenant_id = (await self._found(request))["id"]  # 404 first: no leak
        require_agency(request)
        name = await _key_name(request)
        doc, plaintext = await self.keys.create(
            scope="tenant", name=name, tenant_id=tenant_id, now=datetime.now(UTC)
        )
        return web.json_response({**public_key(doc), "key": plaintext}, status=201)

    async def list_tenant_keys(self, request: web.Request) -> web.Response:
        tenant_id = (await self._found(request))["id"]  # 404 first: no leak
        require_agency(request)
        keys = await self.keys.list(tenant_id=tenant_id)
        return web.json_response({"items": [public_key(k) for k in keys]})

    async def revoke_tenant_key(self, request: web.Request) -> web.Response:
        tenant_id = (await self._found(request))["id"]  # 404 first: no leak
        require_agency(request)
        return await self._revoke(request.match_info["key_id"], tenant_id=tenant_id)

    async def create_agency_key(self, request: web.Request) -> web.Response:
        require_admin(request)
        name = await _key_name(request)
        doc, plaintext = await self.keys.create(
            scope="agency", name=name, tenant_id=None, now=datetime.now(UTC)
        )
        return web.json_response({**public_key(doc), "key": plaintext}, status=201)

    async def list_agency_keys(self, request: web.Request) -> web.Response:
        require_admin(request)
        keys = await self.keys.list(scope="agency")
        return web.json_response({"items": [public_key(k) for k in keys]})

    async def revoke_agency_key(self, request: web.Request) -> web.Response:
        require_admin(request)
        return await self._revoke(request.match_info["key_id"], tenant_id=None)

    async def _revoke(self, key_id: str, *, tenant_id: str | None) -> web.Response:
        doc = await self.keys.get(key_id)
        if doc is None or doc.get("tenant_id") != tenant_id:
            raise ApiError(404, "not_found", f"no key {key_id}")
        await self.keys.revoke(key_id)
        await self.control.notify("key.revoked", key_id)
        return web.Response(status=204)


def _valid(validate: Any, data: dict[str, Any]) -> Any:
    try:
        return validate(data)
    except InvalidField as exc:
        raise ApiError(422, "invalid", f"{exc.field}: {exc}", field=exc.field) from None


async def _key_name(request: web.Request) -> str:
    data = await read_json_object(request) if request.can_read_body else {}
    unknown = sorted(set(data) - {"name"})
    if unknown:
        raise ApiError(422, "invalid", f"unknown field {unknown[0]}", field=unknown[0])
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > 100:
        raise ApiError(422, "invalid", "name: at most 100 characters", field="name")
    return name
