"""Forgetting what replies keeps per reader: customer-service claims (``replies_sent``) and
reader inbox items (``replies_inbox``) older than ``WXP_REPLIES_RETENTION_DAYS`` (30),
every tenant's, deleted in bounded batches by a background loop every
``WXP_REPLIES_PURGE_INTERVAL_SECONDS`` (an hour), since FerretDB has no TTL indexes. So a
reader's quota count reads a bounded set. Replicas may overlap: a second delete deletes
nothing more. A database away skips a round (logged), it does not stop the loop."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.replies.metrics import ReplyMetrics
from shared.contracts.envelope import utc_now
from shared.contracts.tenancy import TENANT_ID_RE
from shared.platform.storage import CONTROL_DB, Client, PyMongoError
from shared.platform.supervision import idle, stopping

logger = logging.getLogger(__name__)
BATCH = 500  # documents a delete


class Purgeable(Protocol):
    async def purge(self, tenant_id: str, before: datetime, *, batch: int) -> int: ...


def every_tenant(client: Client) -> Callable[[], Awaitable[list[str]]]:
    """The ids of the tenants there are (read from the control database)."""

    async def ids() -> list[str]:
        found = client[CONTROL_DB].tenants.find({}, {"_id": 1})
        return [str(doc["_id"]) async for doc in found if TENANT_ID_RE.fullmatch(str(doc["_id"]))]

    return ids


@dataclass(frozen=True, slots=True)
class Retention:
    tenants: Callable[[], Awaitable[list[str]]]
    stores: Mapping[str, Purgeable]  # by the collection each purges
    metrics: ReplyMetrics
    keep: timedelta
    interval: float  # seconds between rounds
    batch: int = BATCH
    clock: Callable[[], datetime] = utc_now
    first_delay: float = 60.0  # a process (re)starting does not sweep every tenant at once

    async def run(self) -> None:
        """Background loop: a round ``first_delay`` after the start, then every ``interval``."""
        await idle(min(self.first_delay, self.interval))
        while True:
            try:
                await self.purge()
            except PyMongoError as exc:
                if stopping():
                    raise
                logger.warning("retention round skipped: database %s", type(exc).__name__)
            await idle(self.interval)

    async def purge(self) -> dict[str, int]:
        """One round: what each collection lost, summed over the tenants."""
        before = self.clock() - self.keep
        purged = dict.fromkeys(self.stores, 0)
        for tenant_id in await self.tenants():
            for collection, store in self.stores.items():
                gone = await store.purge(tenant_id, before, batch=self.batch)
                purged[collection] += gone
                self.metrics.purged.labels(collection).inc(gone)
        if any(purged.values()):
            logger.info("retention: purged %s (older than %s)", purged, before.isoformat())
        return purged
