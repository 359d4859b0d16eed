"""Shutting down cancels the refresh even when the database client reports the cancelled
wait as one more failure (pymongo raises a connection error for an interrupted read)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.analytics.metrics import AnalyticsMetrics
from services.analytics.refresh import Refresh


class Tenants:
    async def tenants(self) -> list[dict[str, Any]]:
        return [{"_id": f"t{n}", "timezone": "Asia/Shanghai"} for n in range(1000)]

    async def due_impacts(self, _: Any) -> list[dict[str, Any]]:
        return []


class Intake:
    def __init__(self) -> None:
        self.touched: set[str] = set()


class SwallowingRefresh(Refresh):
    async def tenant(self, tenant_id: str, name: str, timezone: str) -> dict[str, Any]:
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            raise OSError("connection closed") from None  # as the driver reports it
        return {"status": "active"}

    async def finalize(self, tenant_id: str, timezone: str) -> None:
        return None


async def test_a_cancelled_round_stops_instead_of_going_through_every_tenant() -> None:
    refresh = SwallowingRefresh(
        store=Tenants(),  # type: ignore[arg-type]
        reports=None,  # type: ignore[arg-type]
        intake=Intake(),  # type: ignore[arg-type]
        events=None,  # type: ignore[arg-type]
        metrics=AnalyticsMetrics.create(CollectorRegistry()),
        refresh_seconds=60.0,
        full_seconds=3600.0,
    )
    task = asyncio.create_task(refresh.round(full=True))  # the first round: every tenant
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises((asyncio.CancelledError, OSError)):
        await asyncio.wait_for(task, 1.0)  # not 1,000 tenants x 10 ms
