"""When each tenant's first verified webhook arrived (``connected_at``): what the
console's "test the connection" waits for after onboarding."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Protocol

from services.gateway.bounded import Bounded, DatabaseSlow
from shared.platform.storage import PyMongoError

logger = logging.getLogger(__name__)
CONNECTED_BOUND = 5.0  # seconds: the one-time write of a first webhook, off the webhook's wait


class ConnectionSink(Protocol):
    """Where a first webhook is recorded (the tenant repository)."""

    async def mark_connected(self, tenant_id: str, *, now: datetime) -> bool: ...


class Connections:
    """Records when each tenant's first verified webhook arrived (``connected_at``), which
    the console's "test the connection" waits for. One write per tenant per process, in a
    background task: the webhook never waits for it. A failed write is logged, and the
    next webhook of that tenant tries again."""

    def __init__(self, repository: ConnectionSink, *, bound: float = CONNECTED_BOUND) -> None:
        self._repository = repository
        self._bounded = Bounded(bound)
        self._marked: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def verified(self, tenant_id: str) -> None:
        if tenant_id in self._marked:
            return
        self._marked.add(tenant_id)
        task = asyncio.create_task(self._mark(tenant_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mark(self, tenant_id: str) -> None:
        try:
            now = datetime.now(UTC)
            if await self._bounded(self._repository.mark_connected(tenant_id, now=now)):
                logger.info("first verified webhook of %s", tenant_id)
        except (DatabaseSlow, PyMongoError) as exc:
            self._marked.discard(tenant_id)
            logger.warning("cannot record the first webhook of %s: %s", tenant_id, exc)

    async def drain(self) -> None:
        """Lets the writes under way finish (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
