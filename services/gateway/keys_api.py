"""API keys on the gateway: an account's own keys (made by the agency) and agency keys
(made by the admin). A key is shown once, when it is made; revoking one tells every
replica at once, so it stops working everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from services.gateway.api import visible_tenant
from services.gateway.fields import ONE_LINE, ONE_LINE_HINT
from services.gateway.repository import TenantRepository
from shared.contracts.tenancy import TENANT_ID_ROUTE
from shared.platform.auth import require_admin, require_agency
from shared.platform.control import ControlBus
from shared.platform.key_store import KeyStore, public_key
from shared.platform.web import ApiError, read_json_object

KEY_NAME_MAX = 100
KEY_NAME = re.compile(f"^{ONE_LINE}*$")
TENANT_KEYS = f"/api/tenants/{TENANT_ID_ROUTE}/keys"


@dataclass(frozen=True, slots=True)
class KeyApi:
    repository: TenantRepository
    keys: KeyStore
    control: ControlBus

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(TENANT_KEYS, self.create_tenant_key),
            web.get(TENANT_KEYS, self.list_tenant_keys),
            web.delete(f"{TENANT_KEYS}/{{key_id}}", self.revoke_tenant_key),
            web.post("/api/keys", self.create_agency_key),
            web.get("/api/keys", self.list_agency_keys),
            web.delete("/api/keys/{key_id}", self.revoke_agency_key),
        ]

    async def _tenant_id(self, request: web.Request) -> str:
        tenant_id: str = (await visible_tenant(request, self.repository))["id"]  # 404 first
        require_agency(request)
        return tenant_id

    async def create_tenant_key(self, request: web.Request) -> web.Response:
        tenant_id = await self._tenant_id(request)
        name = await _key_name(request)
        doc, plaintext = await self.keys.create(
            scope="tenant", name=name, tenant_id=tenant_id, now=datetime.now(UTC)
        )
        return web.json_response({**public_key(doc), "key": plaintext}, status=201)

    async def list_tenant_keys(self, request: web.Request) -> web.Response:
        keys = await self.keys.list(tenant_id=await self._tenant_id(request))
        return web.json_response({"items": [public_key(k) for k in keys]})

    async def revoke_tenant_key(self, request: web.Request) -> web.Response:
        tenant_id = await self._tenant_id(request)
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


async def _key_name(request: web.Request) -> str:
    data = await read_json_object(request) if request.can_read_body else {}
    unknown = sorted(set(data) - {"name"})
    if unknown:
        raise ApiError(422, "invalid", f"unknown field {unknown[0]}", field=unknown[0])
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > KEY_NAME_MAX or not KEY_NAME.fullmatch(name):
        raise ApiError(
            422,
            "invalid",
            f"name: at most {KEY_NAME_MAX} characters {ONE_LINE_HINT}",
            field="name",
        )
    return name
