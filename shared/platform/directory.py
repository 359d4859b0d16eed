"""Does a tenant exist, and in which timezone? Cached per process; a deleted tenant's
events are dropped."""

from __future__ import annotations

import time

from shared.contracts.tenancy import DEFAULT_TIMEZONE
from shared.platform.storage import CONTROL_DB, Client, PyMongoError


class TenantDirectory:
    def __init__(self, client: Client, *, cache_seconds: float = 30.0) -> None:
        self._tenants = client[CONTROL_DB].tenants
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str | None]] = {}  # id: (until, timezone or None)

    async def exists(self, tenant_id: str) -> bool:
        """True unless the tenant is known to be gone (an unreachable database says True)."""
        try:
            return await self._lookup(tenant_id) is not None
        except PyMongoError:
            return True

    async def timezone(self, tenant_id: str) -> str:
        """The tenant's IANA timezone; LookupError for an unknown tenant."""
        zone = await self._lookup(tenant_id)
        if zone is None:
            raise LookupError(f"no tenant {tenant_id}")
        return zone

    async def _lookup(self, tenant_id: str) -> str | None:
        now = time.monotonic()
        hit = self._cache.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        doc = await self._tenants.find_one({"_id": tenant_id}, {"timezone": 1})
        zone = None if doc is None else str(doc.get("timezone") or DEFAULT_TIMEZONE)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[tenant_id] = (now + self._cache_seconds, zone)
        return zone

    def forget(self, tenant_id: str) -> None:
        self._cache.pop(tenant_id, None)
