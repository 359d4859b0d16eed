"""Webhook credentials per tenant, cached briefly so a webhook costs no extra read.

A lookup is bounded like every database call on the webhook path (``Bounded``, 1 s).
When the database fails or does not answer in time, the :class:`Breaker` trips: the
entry the cache holds is served however old, at once, until the breaker's pause is
over and a webhook asks again. WeChat's messages keep flowing through an outage. With
no entry at all, :class:`DatabaseSlow` is raised and the webhook answers 503 (WeChat
retries). Known and unknown ids are cached apart (``shared.platform.lookups``): a flood
of random ids never evicts a real tenant.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Protocol

from services.gateway.bounded import Bounded, DatabaseSlow
from services.gateway.breaker import Breaker
from services.gateway.verify import Credentials
from shared.contracts.tenancy import TENANT_ID_RE
from shared.platform.lookups import LookupCache
from shared.platform.storage import PyMongoError

logger = logging.getLogger(__name__)
MISSING_SECONDS = 1.0  # an unknown id is read again soon: an account onboarded now must verify


class CredentialSource(Protocol):
    """Where credentials are read (:class:`services.gateway.repository.TenantRepository`)."""

    async def credentials(self, tenant_id: str, *, now: datetime) -> Credentials | None: ...


class TenantCache:
    def __init__(
        self,
        repository: CredentialSource,
        *,
        ttl: float,
        breaker: Breaker | None = None,
        bounded: Bounded | None = None,
    ) -> None:
        self._repository = repository
        self._breaker = breaker or Breaker()
        self._bounded = bounded or Bounded()
        self._entries: LookupCache[Credentials] = LookupCache(
            found_seconds=ttl, missing_seconds=min(ttl, MISSING_SECONDS)
        )

    async def get(self, tenant_id: str) -> Credentials | None:
        """The tenant's credentials, or None for an unknown (or malformed) id; raises
        DatabaseSlow when the database cannot say and nothing is cached."""
        if not TENANT_ID_RE.fullmatch(tenant_id):
            return None
        now = time.monotonic()
        entry = self._entries.get(tenant_id)
        if entry is not None and (entry.fresh(now) or self._breaker.tripped()):
            return entry.value
        if self._breaker.tripped():
            raise DatabaseSlow(f"the database is failing; nothing cached for {tenant_id}")
        try:
            credentials = await self._bounded(
                self._repository.credentials(tenant_id, now=datetime.now(UTC))
            )
        except (DatabaseSlow, PyMongoError) as exc:
            self._breaker.trip()
            if entry is None:
                raise DatabaseSlow(f"nothing cached for {tenant_id}: {exc}") from None
            logger.warning("database unavailable (%s); serving cached %s", exc, tenant_id)
            return entry.value
        self._entries.put(tenant_id, credentials, now=now)
        return credentials

    def forget(self, tenant_id: str) -> None:
        self._entries.forget(tenant_id)
