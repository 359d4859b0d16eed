"""Authenticating API calls, one middleware for every service's ``/api/``.

Keys live in ``wxp_control.api_keys`` (:mod:`shared.platform.key_store`); lookups are
cached for a few seconds per process, so a revoked key stops working everywhere within
``cache_seconds``; unknown key ids are cached apart, so guessing never evicts a real key.
Each request under ``/api/`` (but the OpenAPI document) gets a :class:`Principal`,
and is rate-limited per key.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from shared.platform.keys import Principal, is_admin_key, key_id_of, matches
from shared.platform.lookups import LookupCache
from shared.platform.ratelimit import TokenBuckets
from shared.platform.web import ApiError, bearer_key

PRINCIPAL = web.RequestKey("principal", Principal)
PUBLIC_PATHS = frozenset({"/api/openapi.json"})


class KeyLookup(Protocol):
    """Where stored keys are found (:class:`shared.platform.key_store.KeyStore`)."""

    async def get(self, key_id: str) -> dict[str, Any] | None: ...


class Authenticator:
    def __init__(self, store: KeyLookup, *, admin_key: str, cache_seconds: float = 5.0) -> None:
        self._store = store
        self._admin_key = admin_key
        self._cache: LookupCache[dict[str, Any]] = LookupCache(
            found_seconds=cache_seconds,
            missing_seconds=cache_seconds,
            found_capacity=10_000,
            missing_capacity=10_000,
        )

    async def principal(self, plaintext: str) -> Principal:
        if is_admin_key(plaintext, self._admin_key):
            return Principal(key_id="admin", scope="admin")
        key_id = key_id_of(plaintext)
        doc = await self._lookup(key_id) if key_id else None
        if doc is None or not matches(plaintext, doc["digest"]):
            raise ApiError(401, "unauthorized", "invalid API key")
        return Principal(
            key_id=doc["_id"],
            scope=doc["scope"],
            tenant_id=doc.get("tenant_id"),
            name=str(doc.get("name") or ""),
        )

    def forget(self, key_id: str) -> None:
        self._cache.forget(key_id)

    async def _lookup(self, key_id: str) -> dict[str, Any] | None:
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and hit.fresh(now):
            return hit.value
        doc = await self._store.get(key_id)
        self._cache.put(key_id, doc, now=now)
        return doc


def auth_middleware(authenticator: Authenticator, buckets: TokenBuckets) -> Callable[..., Any]:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:
            return await handler(request)
        principal = await authenticator.principal(bearer_key(request))
        wait = buckets.take(principal.key_id, time.monotonic())
        if wait:
            raise ApiError(
                429,
                "rate_limited",
                "too many requests for this API key",
                headers={"Retry-After": TokenBuckets.retry_after(wait)},
            )
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require_agency(request: web.Request) -> Principal:
    """Agency-wide routes: admin and agency keys only."""
    principal = principal_of(request)
    if not principal.agency_wide:
        raise ApiError(403, "forbidden", "this route needs an agency key")
    return principal


def require_admin(request: web.Request) -> Principal:
    principal = principal_of(request)
    if principal.scope != "admin":
        raise ApiError(403, "forbidden", "this route needs the admin key")
    return principal


def require_tenant(request: web.Request, tenant_id: str) -> Principal:
    """A tenant's resources: another tenant's key gets 404, so existence is not leaked."""
    principal = principal_of(request)
    if not principal.sees_tenant(tenant_id):
        raise ApiError(404, "not_found", f"no tenant {tenant_id}")
    return principal
