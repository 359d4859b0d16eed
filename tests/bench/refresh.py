"""What analytics' periodic refresh costs a tenant as its raw log grows:
``python -m tests.bench.refresh`` (in ``make bench``, about 35 s).

For each size, a tenant of its own in the tests' FerretDB gets 30 days of readers' texts
in its raw log (written as the fold writes them, ``AnalyticsStore.keep``: in one leaf a
day, or in many, as a steady account's come), then the refresh's per-tenant reading (the
digests of the last 30 days, ``Reports.window``, and the overview row made of them,
``Reports.summary``), as ``services/analytics/refresh.py`` does every
``WXP_ANALYTICS_REFRESH_SECONDS`` (60) for every tenant touched since the last round, is
timed: the first time after a start (every day's digest made from its facts); for the
tenant of many leaves a day, the merge of its days (``AnalyticsStore.merge_leaves``, as
the refresh does past ``MERGE_LEAVES``) and the refresh after it; then after a minute's
more facts folded into a new leaf of today (the days whose leaves are unchanged keep
their digests). ``stats/daily`` and ``stats/channels`` of the 30 days
(``Reports.daily``, ``Reports.channels``) are timed right after the first refresh (each
finds what the calls before it kept) and after the minute as well. Printed for each: the
facts decoded, wall time, analytics' CPU (this process) and FerretDB's; written to
``var/bench/refresh.json``. Each tenant's database is dropped afterwards.

The bench's other scenarios start from empty databases and last minutes, so they cannot
show a cost that grows with the history kept: this one is for that.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta

import uvloop

from services.analytics.facts import Fact, fact_of, to_row
from services.analytics.figures import HealthPolicy
from services.analytics.refresh import MERGE_LEAVES
from services.analytics.reports import Reports
from services.analytics.store import AnalyticsStore
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.platform.storage import mongo_client, tenant_db_name
from tests.bench.cpu import cpu_seconds, infra_pids
from tests.support.infra import ROOT, mongodb_url

DAYS = 30
# Readers' texts a day, and the leaves they come in: a day written at once, or a leaf a
# fold as a steady account's texts are (about one a fold, 17,000 folds a day).
SIZES = ((3_000, 1), (10_000, 1), (600, 100))
READERS = 3_000
TIMEZONE = "Asia/Shanghai"
OUT = ROOT / "var" / "bench" / "refresh.json"
Row = dict[str, float | int]


async def one_size(store: AnalyticsStore, per_day: int, leaves: int) -> tuple[str, Row]:
    tenant = f"tbr{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    n = 0
    for day in range(DAYS):
        rows = []
        for k in range(per_day):
            rows.append(
                to_row(made(tenant, n, now - timedelta(days=day, seconds=k * 86_000 / per_day)))
            )
            n += 1
        step = -(-per_day // leaves)
        folds = [
            store.keep(tenant, rows[first : first + step], fold=f"bench-{day}-{first}")
            for first in range(0, per_day, step)
        ]
        await asyncio.gather(*folds)
    reports = Reports(store=store, raw_days=DAYS, policy=HealthPolicy(), now=lambda: now)
    row: Row = {"facts_a_day": per_day, "leaves_a_day": leaves}
    first, today = reports.today(TIMEZONE) - timedelta(days=DAYS - 1), reports.today(TIMEZONE)
    row |= await timed_refresh("cold", reports, store, tenant)
    row |= await timed("daily_cold", reports.daily(tenant, TIMEZONE, first, today))
    row |= await timed("channels_cold", reports.channels(tenant, TIMEZONE, first, today))
    if leaves > MERGE_LEAVES:  # as the refresh does next: the days' leaves merged
        days = sorted(await store.leaf_ids(tenant, "0000-01-01", "9999-12-31"))
        row |= await timed("merge", store.merge_leaves(tenant, days))
        row |= await timed_refresh("merged", reports, store, tenant)  # every day anew, once
        await reports.daily(tenant, TIMEZONE, first, today)  # so for stats/daily's tallies
    minute = [to_row(made(tenant, n + k, now)) for k in range(max(1, per_day // 1440))]
    await store.keep(tenant, minute, fold="bench-now")  # the minute since: a leaf for today
    row |= await timed_refresh("warm", reports, store, tenant)
    row |= await timed("daily_warm", reports.daily(tenant, TIMEZONE, first, today))
    row |= await timed("channels_warm", reports.channels(tenant, TIMEZONE, first, today))
    return tenant, row


def made(tenant: str, n: int, at: datetime) -> Fact:
    """A reader's text, the ``n``-th, as analytics counts it."""
    stamp = iso(at)
    payload = WeChatMessage("gh_bench", {"msg_id": str(n), "content": "hi"})
    fact = fact_of(
        Envelope(f"r{n}", tenant, "msg.text", stamp, stamp, f"o{n % READERS}", payload), TIMEZONE
    )
    assert fact is not None
    return fact


async def timed_refresh(phase: str, reports: Reports, store: AnalyticsStore, tenant: str) -> Row:
    """One refresh's reading of the tenant (its window and overview row), timed, with the
    facts it decoded."""
    read = 0
    days_of_facts = store.days_of_facts

    async def counted(
        tenant_id: str, days: Sequence[str]
    ) -> dict[str, tuple[frozenset[str], list[Fact]]]:
        nonlocal read
        found = await days_of_facts(tenant_id, days)
        read += sum(len(facts) for _, facts in found.values())
        return found

    async def refresh() -> None:
        window = await reports.window(tenant, TIMEZONE)
        await reports.summary(tenant, "bench", TIMEZONE, window)

    store.days_of_facts = counted  # type: ignore[method-assign]
    try:
        return {**await timed(phase, refresh()), f"{phase}_facts_read": read}
    finally:
        del store.days_of_facts


async def timed(phase: str, work: Awaitable[object]) -> Row:
    """Wall seconds, analytics' CPU seconds (this process) and FerretDB's, of ``work``."""
    pid = infra_pids().get("FerretDB")
    cpu, database, wall = time.process_time(), cpu_seconds(pid) if pid else 0.0, time.perf_counter()
    await work
    return {
        f"{phase}_seconds": round(time.perf_counter() - wall, 3),
        f"{phase}_analytics_cpu_seconds": round(time.process_time() - cpu, 3),
        f"{phase}_ferretdb_cpu_seconds": round(
            cpu_seconds(pid) - database if pid else float("nan"), 3
        ),
    }


def said(row: Row, phase: str) -> str:
    read = f"{row[f'{phase}_facts_read']:,} facts read, " if f"{phase}_facts_read" in row else ""
    return (
        f"{read}{row[f'{phase}_seconds']:.2f} s, "
        f"analytics CPU {row[f'{phase}_analytics_cpu_seconds']:.2f} s, "
        f"FerretDB CPU {row[f'{phase}_ferretdb_cpu_seconds']:.2f} s"
    )


async def main() -> list[Row]:
    client = mongo_client(mongodb_url(), app_name="wxp-bench-refresh")
    store = AnalyticsStore(client, fold_spread=0.0)
    rows = []
    try:
        for per_day, leaves in SIZES:
            tenant, row = await one_size(store, per_day, leaves)
            await client.drop_database(tenant_db_name(tenant))
            rows.append(row)
            merged = (
                f"; its days merged {said(row, 'merge')}, the next refresh {said(row, 'merged')}"
                if "merge_seconds" in row
                else ""
            )
            stored = "one leaf" if leaves == 1 else f"{leaves:,} leaves"
            print(
                f"analytics refresh, one tenant, {DAYS} days of {per_day:,} texts a day in "
                f"{stored} a day: the first after a start {said(row, 'cold')}{merged}; "
                f"a minute's facts later {said(row, 'warm')} (every 60 s while it is touched)"
            )
            for api in ("daily", "channels"):
                print(
                    f"  stats/{api} of the {DAYS} days, right after that first refresh "
                    f"{said(row, f'{api}_cold')}; a minute's facts later {said(row, f'{api}_warm')}"
                )
    finally:
        await client.close()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"days": DAYS, "sizes": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    uvloop.run(main())
