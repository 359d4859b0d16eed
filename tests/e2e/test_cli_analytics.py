"""``wxp analytics rebuild`` as an operator runs it: the console script against analytics
as a process, over a tenant whose raw log holds a subscribe and whose derived state is
stale (no reader state, a finalized day inside the raw log)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from services.analytics.facts import FOLLOW, Fact
from services.analytics.figures import DayFigures
from services.analytics.reports import day_doc
from tests.conftest import tenant_record
from tests.e2e.test_analytics import ZONE
from tests.e2e.test_cli import wxp
from tests.support.processes import ServiceProcess

NO_GATEWAY = "http://127.0.0.1:9"  # the rebuild must not need it
RAW_DAYS = 35  # analytics' default


@dataclass
class Stale:
    tenant_id: str
    today: date
    db: Any


@pytest.fixture
async def stale(
    services: Callable[..., Awaitable[ServiceProcess]],
    mongo: Any,
    created_tenants: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stale]:
    """Analytics as a process (``WXP_ANALYTICS_URL``), and a tenant of its own whose raw
    log holds o1's subscribe three days ago, with a stale finalized day for that day.
    (Its refresh rounds write the overview row too, so the tests check only what no round
    writes; tests/analytics/test_rebuild.py checks the row.)"""
    tenant_id = f"ar-{secrets.token_hex(5)}"
    await mongo["wxp_control"].tenants.insert_one(tenant_record(tenant_id, "CLI rebuild"))
    created_tenants.append(tenant_id)
    today = datetime.now(UTC).astimezone(ZONE).date()
    day = today - timedelta(days=3)
    at = datetime.combine(day, time(9, 0), ZONE)
    subscribe = Fact(
        id=f"{tenant_id}-o1",
        kind=FOLLOW,
        type="event.subscribe",
        at=at.astimezone(UTC),
        day=day.isoformat(),
        hour=9,
        weekday=day.weekday(),
        openid="o1",
        key="qr_cli",
    )
    db = mongo[f"wxp_t_{tenant_id}"]
    await db.analytics_events.insert_one(subscribe.to_doc())
    stale = DayFigures(day.isoformat(), 40, 0, 40, None, 0, 0, {}, {}, 0, 0, 0, 0)
    await db.analytics_days.insert_one(day_doc(stale))
    analytics = await services("analytics")
    monkeypatch.setenv("WXP_ANALYTICS_URL", analytics.url)
    yield Stale(tenant_id, today, db)
    await mongo.drop_database(f"wxp_t_{tenant_id}")


async def test_a_rebuild_says_what_it_recomputed_in_one_line(stale: Stale) -> None:
    first = (stale.today - timedelta(days=7)).isoformat()

    code, out, err = await wxp(
        "analytics", "rebuild", "--tenant", stale.tenant_id, "--from", first, url=NO_GATEWAY
    )

    assert (code, err) == (0, ""), err
    assert out == (
        f"rebuilt {stale.tenant_id} from {first}: 1 reader replaced, 1 finalized day "
        "dropped, 0 broadcast impacts measured again; overview and send time recomputed\n"
    )
    reader = await stale.db.analytics_readers.find_one({"_id": "o1"})
    assert (reader["follow"], reader["channel"]) == (FOLLOW, "qr_cli")
    assert await stale.db.analytics_days.count_documents({}) == 0


async def test_a_day_the_raw_log_no_longer_keeps_is_one_line_and_exit_1(stale: Stale) -> None:
    start = stale.today - timedelta(days=RAW_DAYS - 1)
    too_old = (start - timedelta(days=1)).isoformat()

    code, out, err = await wxp(
        "analytics", "rebuild", "--tenant", stale.tenant_id, "--from", too_old, url=NO_GATEWAY
    )

    assert (code, out) == (1, "")
    assert err == (  # no traceback
        f"wxp: 422 invalid: from: the raw log starts at {start.isoformat()} (it keeps "
        f"{RAW_DAYS} days); older days cannot be rebuilt\n"
    )
    assert await stale.db.analytics_days.count_documents({}) == 1  # nothing changed
    assert await stale.db.analytics_readers.count_documents({}) == 0
