"""What analytics' periodic refresh costs a tenant as its raw log grows:
``python -m tests.bench.refresh`` (in ``make bench``, about 15 s).

For each size, a tenant of its own in the tests' FerretDB gets 30 days of readers' texts
in its raw log (written as the fold writes them, ``AnalyticsStore.keep``), then the
refresh's per-tenant reading is timed twice: the last 30 days of facts
(``Reports.window``) and the overview row made of them (``Reports.summary``), as
``services/analytics/refresh.py`` does every ``WXP_ANALYTICS_REFRESH_SECONDS`` (60) for
every tenant touched since the last round. Printed: wall time, analytics' CPU (this
process) and FerretDB's, per refresh; written to ``var/bench/refresh.json``. Each tenant's
database is dropped afterwards.

The bench's other scenarios start from empty databases and last minutes, so they cannot
show a cost that grows with the history kept: this one is for that.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import uvloop

from services.analytics.facts import fact_of, to_row
from services.analytics.figures import HealthPolicy
from services.analytics.reports import Reports
from services.analytics.store import AnalyticsStore
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.platform.storage import mongo_client, tenant_db_name
from tests.bench.cpu import cpu_seconds, infra_pids
from tests.support.infra import ROOT, mongodb_url

DAYS = 30
SIZES = (3_000, 10_000)  # readers' texts a day
READERS = 3_000
TIMEZONE = "Asia/Shanghai"
OUT = ROOT / "var" / "bench" / "refresh.json"
Row = dict[str, float | int]


async def one_size(store: AnalyticsStore, per_day: int) -> tuple[str, Row]:
    tenant = f"tbr{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    n = 0
    for day in range(DAYS):
        rows = []
        for k in range(per_day):
            at = iso(now - timedelta(days=day, seconds=k * 86_000 / per_day))
            payload = WeChatMessage("gh_bench", {"msg_id": str(n), "content": "hi"})
            envelope = Envelope(f"r{n}", tenant, "msg.text", at, at, f"o{n % READERS}", payload)
            fact = fact_of(envelope, TIMEZONE)
            assert fact is not None
            rows.append(to_row(fact))
            n += 1
        await store.keep(tenant, rows, fold=f"bench-{day}")
    reports = Reports(store=store, raw_days=DAYS, policy=HealthPolicy(), now=lambda: now)
    pid = infra_pids().get("FerretDB")
    timings = []
    read = 0
    for _ in range(2):
        cpu, database, wall = (
            time.process_time(),
            cpu_seconds(pid) if pid else 0.0,
            time.perf_counter(),
        )
        window = await reports.window(tenant, TIMEZONE)
        await reports.summary(tenant, "bench", TIMEZONE, window)
        read = len(window.facts)
        timings.append(
            (
                time.perf_counter() - wall,
                time.process_time() - cpu,
                cpu_seconds(pid) - database if pid else float("nan"),
            )
        )
    return tenant, {
        "facts_a_day": per_day,
        "facts_read": read,
        "seconds": round(min(t[0] for t in timings), 3),
        "analytics_cpu_seconds": round(min(t[1] for t in timings), 3),
        "ferretdb_cpu_seconds": round(min(t[2] for t in timings), 3),
    }


async def main() -> list[Row]:
    client = mongo_client(mongodb_url(), app_name="wxp-bench-refresh")
    store = AnalyticsStore(client, fold_spread=0.0)
    rows = []
    try:
        for per_day in SIZES:
            tenant, row = await one_size(store, per_day)
            await client.drop_database(tenant_db_name(tenant))
            rows.append(row)
            print(
                f"analytics refresh, one tenant, {DAYS} days of {per_day:,} texts a day: "
                f"{row['facts_read']:,} facts read, {row['seconds']:.2f} s, analytics CPU "
                f"{row['analytics_cpu_seconds']:.2f} s, FerretDB CPU "
                f"{row['ferretdb_cpu_seconds']:.2f} s a refresh (every 60 s while it is touched)"
            )
    finally:
        await client.close()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"days": DAYS, "sizes": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    uvloop.run(main())
