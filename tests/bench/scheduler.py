"""Does a run start on time with a full calendar? ``python -m tests.bench.scheduler``.

Seeds 10,000 scheduled broadcasts across 1,000 tenants straight into the tests' FerretDB
(documents as the scheduler's API leaves them, built with its planning code), due over
the next weeks; once a real scheduler process (with the fake WeChat API as a process) is
up, ``WINDOW_RUNS`` more are planted, due evenly over ``WINDOW_SECONDS`` from
``WINDOW_OPENS`` on, as other replicas would plan them. Each window run's lag
is its ``started_at`` (when the replica began the send, after its claim) less its due
time. Also: the scheduler's CPU and peak memory, and that the fake took exactly one mass
send per window run. The tenants, their databases and their due entries are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
from aiohttp import ClientSession

from services.scheduler.batches import client_msg_id
from services.scheduler.broadcasts import new_broadcast_id
from services.scheduler.planning import Account, new_run
from services.scheduler.runs import Run
from shared.contracts.topology import declare_exchanges
from shared.platform.secretbox import SecretBox
from shared.platform.storage import CONTROL_DB, Client, mongo_client, tenant_db_name
from shared.platform.tenant_records import seal_secrets
from tests.bench.cpu import cpu_seconds
from tests.bench.stack import SCHEDULER_TENANT, delete_queues
from tests.support.fake_wechat import FakeAdmin, running_fake
from tests.support.gateway import wait_ready
from tests.support.infra import ROOT, amqp_url, mongodb_url
from tests.support.processes import start_service

TENANTS = 1_000
PER_TENANT = 10
WINDOW_RUNS = 300
WINDOW_OPENS = 15.0  # seconds after the scheduler is ready
WINDOW_SECONDS = 60.0
SECRET = "bench-secret"
Row = dict[str, float | str]


def peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def seed(mongo: Client, prefix: str, now: datetime) -> list[Account]:
    """The tenants, and their broadcasts that fall due over the next weeks (two-openid
    lists: no quota), with runs and due entries."""
    box = SecretBox.from_setting(os.environ["WXP_MASTER_KEY"])
    accounts = [
        Account(f"{prefix}-{n:04d}", f"wx{secrets.token_hex(8)}", "service", "Asia/Shanghai")
        for n in range(TENANTS)
    ]
    await mongo[CONTROL_DB].tenants.insert_many(
        [
            {
                "_id": a.tenant_id,
                "name": SCHEDULER_TENANT,
                "appid": a.appid,
                "encrypt_mode": "safe",
                "created_at": now,
                "account_type": a.account_type,
                "timezone": a.timezone,
                "bench": True,
                **seal_secrets(box, a.tenant_id, {"app_secret": SECRET}),
            }
            for a in accounts
        ]
    )
    for n, account in enumerate(accounts):
        dues = [now + timedelta(days=1 + (n + k) % 28, minutes=n % 600) for k in range(PER_TENANT)]
        await plant(mongo, account, dues, now)
    return accounts


async def plant(mongo: Client, account: Account, dues: list[datetime], now: datetime) -> list[Run]:
    """Broadcasts of ``account`` due at ``dues``, as the scheduler's API would leave them."""
    runs = []
    for due in dues:
        due = due.replace(microsecond=due.microsecond // 1000 * 1000)  # BSON keeps ms
        runs.append(new_run(account, new_broadcast_id(now), due, 1))
    db = mongo[tenant_db_name(account.tenant_id)]
    await db.broadcasts.insert_many([broadcast_doc(r.broadcast_id, r.due_at, now) for r in runs])
    await db.broadcast_runs.insert_many([run_doc(r) for r in runs])
    audiences = [
        {"_id": f"{r.broadcast_id}:0", "openids": ["o_bench_a", "o_bench_b"]} for r in runs
    ]
    await db.broadcast_audiences.insert_many(audiences)
    await mongo[CONTROL_DB].scheduler_due.insert_many(
        [{"_id": r.key, "due_at": r.due_at, "status": "scheduled"} for r in runs]
    )
    return runs


async def plant_window(mongo: Client, accounts: list[Account], opens: datetime) -> list[Run]:
    """``WINDOW_RUNS`` broadcasts of as many tenants, due evenly over the window."""
    step = timedelta(seconds=WINDOW_SECONDS / WINDOW_RUNS)
    spread = len(accounts) // WINDOW_RUNS
    window = []
    for n in range(WINDOW_RUNS):
        account = accounts[(n * spread) % len(accounts)]
        window += await plant(mongo, account, [opens + n * step], datetime.now(UTC))
    return window


def broadcast_doc(bid: str, due: datetime, now: datetime) -> dict[str, Any]:
    return {
        "_id": bid,
        "name": "bench",
        "message": {"type": "text", "content": "bench"},
        "audience": {"kind": "openids", "count": 2},
        "schedule": {"at": due.isoformat().replace("+00:00", "Z")},
        "status": "scheduled",
        "created_at": now,
        "next_run_at": due,
        "batches": 1,
    }


def run_doc(run: Run) -> dict[str, Any]:
    return {
        "_id": run.doc_id,
        "broadcast_id": run.broadcast_id,
        "run_id": run.run_id,
        "due_at": run.due_at,
        "status": "scheduled",
        "claims": 0,
        "tries": 0,
        "batches": [
            {
                "index": 0,
                "clientmsgid": client_msg_id(run.tenant_id, run.broadcast_id, run.run_id, 0),
                "size": None,
                "msg_id": None,
                "msg_data_id": None,
                "submitted_at": None,
                "result": None,
            }
        ],
    }


async def started_lags(mongo: Client, window: list[Run], deadline: float) -> list[float]:
    """Each window run's start lag in seconds, once every one has started (or the deadline)."""
    lags: dict[str, float] = {}
    while len(lags) < len(window) and time.monotonic() < deadline:
        await asyncio.sleep(2.0)
        for run in window:
            if run.key in lags:
                continue
            doc = await mongo[tenant_db_name(run.tenant_id)].broadcast_runs.find_one(
                {"_id": run.doc_id}, {"started_at": 1}
            )
            if doc is not None and doc.get("started_at") is not None:
                lags[run.key] = (doc["started_at"] - run.due_at).total_seconds()
    return list(lags.values())


async def clean_up(mongo: Client, prefix: str, accounts: list[Account]) -> None:
    control = mongo[CONTROL_DB]
    await control.tenants.delete_many({"_id": {"$regex": f"^{prefix}-"}})
    for name in ("scheduler_due", "scheduler_claims", "scheduler_fates", "scheduler_msg_ids"):
        await control[name].delete_many({"_id": {"$regex": f"^{prefix}-"}})
    for first in range(0, len(accounts), 50):
        chunk = accounts[first : first + 50]
        await asyncio.gather(*(mongo.drop_database(tenant_db_name(a.tenant_id)) for a in chunk))


@contextlib.asynccontextmanager
async def analytics_stand_in(prefix: str) -> AsyncIterator[None]:
    """A queue where analytics' would be, taking broadcast.* and keeping none of it: the
    scheduler publishes with ``mandatory`` and an unroutable event is refused."""
    connection = await aio_pika.connect(amqp_url())
    channel = await connection.channel()
    exchange = await declare_exchanges(channel)
    queue = await channel.declare_queue(
        f"{prefix}.sink", arguments={"x-max-length": 0}, auto_delete=True
    )
    await queue.bind(exchange, routing_key="*.broadcast.*")
    try:
        yield
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await connection.close()


async def scheduler_scenario() -> Row:
    prefix = f"bsched{secrets.token_hex(3)}"
    mongo = mongo_client(mongodb_url(), app_name="wxp-bench-scheduler")
    accounts: list[Account] = []
    try:
        async with running_fake() as wechat, ClientSession() as http, analytics_stand_in(prefix):
            seeded = time.perf_counter()
            accounts = await seed(mongo, prefix, datetime.now(UTC))
            seed_seconds = time.perf_counter() - seeded
            fake = FakeAdmin(http, wechat)
            await asyncio.gather(*(fake.register(a.appid, SECRET) for a in accounts))
            scheduler = start_service(
                "scheduler",
                queue_prefix=prefix,
                admin_key=os.environ["WXP_ADMIN_KEY"],
                WECHAT_API_BASE=wechat,
                LOG_LEVEL="WARNING",
            )
            try:
                await wait_ready(http, scheduler.url)
                opens = datetime.now(UTC) + timedelta(seconds=WINDOW_OPENS)
                window = await plant_window(mongo, accounts, opens)
                pid = scheduler.process.pid
                cpu_before = cpu_seconds(pid)
                deadline = time.monotonic() + WINDOW_OPENS + WINDOW_SECONDS + 60
                lags = await started_lags(mongo, window, deadline)
                cpu = cpu_seconds(pid) - cpu_before
                peak = peak_rss(pid)
                jobs = len(await fake.mass_jobs())
            finally:
                scheduler.terminate()
    finally:
        await clean_up(mongo, prefix, accounts)
        await mongo.close()
        connection = await aio_pika.connect(amqp_url())
        await delete_queues(connection, prefix)  # the scheduler's own, declared at start
        await connection.close()
    late = sum(1 for lag in lags if lag > 1.0)
    return {
        "scenario": (
            f"scheduler, {TENANTS * PER_TENANT:,} broadcasts scheduled across {TENANTS:,} "
            f"tenants, {WINDOW_RUNS} more due over {WINDOW_SECONDS:.0f} s"
        ),
        "window_runs": len(window),
        "started": len(lags),
        "mass_sends": jobs,
        "lag_p50_s": round(statistics.median(lags), 3) if lags else -1.0,
        "lag_p99_s": round(percentile(lags, 0.99), 3) if lags else -1.0,
        "lag_max_s": round(max(lags), 3) if lags else -1.0,
        "late_over_1s": late,
        "scheduler_cpu_s": round(cpu, 2),
        "scheduler_peak_rss_mib": round(peak / 2**20, 1),
        "seed_seconds": round(seed_seconds, 1),
    }


def describe(row: Row) -> str:
    return (
        f"{row['scenario']}: {row['started']}/{row['window_runs']} due runs started, "
        f"lag p50 {row['lag_p50_s']} s, p99 {row['lag_p99_s']} s, max {row['lag_max_s']} s "
        f"({row['late_over_1s']} over 1 s); {row['mass_sends']} mass sends; scheduler CPU "
        f"{row['scheduler_cpu_s']} s, peak RSS {row['scheduler_peak_rss_mib']} MiB; seeding took "
        f"{row['seed_seconds']} s"
    )


def main() -> None:
    row = asyncio.run(scheduler_scenario())
    print(describe(row))
    goal = (
        "met"
        if row["started"] == row["window_runs"] and float(row["lag_p99_s"]) <= 1.0
        else "NOT met"
    )
    print(f"goal: every due run started, p99 lag <= 1 s: {goal}")
    path = ROOT / "var" / "bench" / "scheduler.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row, indent=2) + "\n")
    print(f"figures in {path}")


if __name__ == "__main__":
    main()
