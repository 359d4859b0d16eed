"""Webhook credentials per tenant, cached briefly so a webhook costs no extra read.

While the database is unreachable, an expired entry is served rather than failing
the webhook: WeChat's messages keep flowing through a database blip.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from services.gateway.repository import TenantRepository
from services.gateway.verify import Credentials
from shared.contracts.tenancy import TENANT_ID_RE
from shared.platform.storage import UNAVAILABLE

logger = logging.getLogger(__name__)


class TenantCache:
    def __init__(self, repository: TenantRepository, *, ttl: float) -> None:
        self._repository = repository
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Credentials | None]] = {}

    async def get(self, tenant_id: str) -> Credentials | None:
        """The tenant's credentials, or None for an unknown (or malformed) id."""
        if not TENANT_ID_RE.fullmatch(tenant_id):
            return None
        now = time.monotonic()
        hit = self._entries.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            credentials = await self._repository.credentials(tenant_id, now=datetime.now(UTC))
        except UNAVAILABLE:
            if hit is None:
                raise
            logger.warning("database unavailable; using cached credentials of %s", tenant_id)
            return hit[1]
        if len(self._entries) > 50_000:
            self._entries.clear()
        # An unknown id is re-read sooner: an account onboarded a moment ago must verify.
        ttl = self._ttl if credentials is not None else min(self._ttl, 1.0)
        self._entries[tenant_id] = (now + ttl, credentials)
        return credentials

    def forget(self, tenant_id: str) -> None:
        self._entries.pop(tenant_id, None)
