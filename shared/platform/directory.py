"""Does a tenant exist, and in which timezone? Cached per process; a deleted tenant's
events are dropped.

A tenant found is cached for ``cache_seconds``, an unknown id for ``missing_seconds``
only (a second): an id looked up just before its tenant was onboarded is read again at
once when the ``tenant.created`` notice comes, and within a second if that is missed.
Found and unknown ids are cached apart (``shared.platform.lookups``).
"""

from __future__ import annotations

import time

from shared.contracts.tenancy import DEFAULT_TIMEZONE
from shared.platform.lookups import LookupCache
from shared.platform.storage import CONTROL_DB, Client, PyMongoError


class TenantDirectory:
    def __init__(
        self, client: Client, *, cache_seconds: float = 30.0, missing_seconds: float = 1.0
    ) -> None:
        self._tenants = client[CONTROL_DB].tenants
        self._cache: LookupCache[str] = LookupCache(  # id: its timezone, None when unknown
            found_seconds=cache_seconds, missing_seconds=missing_seconds
        )

    async def exists(self, tenant_id: str) -> bool:
        """True unless the tenant is known to be gone (an unreachable database says True:
        handling an event of a deleted tenant beats dropping one of a live tenant)."""
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
        entry = self._cache.get(tenant_id)
        if entry is not None and entry.fresh(now):
            return entry.value
        doc = await self._tenants.find_one({"_id": tenant_id}, {"timezone": 1})
        zone = None if doc is None else str(doc.get("timezone") or DEFAULT_TIMEZONE)
        self._cache.put(tenant_id, zone, now=now)
        return zone

    def forget(self, tenant_id: str) -> None:
        self._cache.forget(tenant_id)
