"""Does a tenant exist? Cached per process; a deleted tenant's events are dropped."""

from __future__ import annotations

import time

from shared.storage import CONTROL_DB, Client, PyMongoError


class TenantDirectory:
    def __init__(self, client: Client, *, cache_seconds: float = 30.0) -> None:
        self._tenants = client[CONTROL_DB].tenants
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, bool]] = {}

    async def exists(self, tenant_id: str) -> bool:
        """True unless the tenant is known to be gone (an unreachable database says True)."""
        now = time.monotonic()
        hit = self._cache.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            found = await self._tenants.find_one({"_id": tenant_id}, {"_id": 1}) is not None
        except PyMongoError:
            return True
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[tenant_id] = (now + self._cache_seconds, found)
        return found

    def forget(self, tenant_id: str) -> None:
        self._cache.pop(tenant_id, None)
