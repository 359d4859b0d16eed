"""The processes under test: a single server (bare aiohttp or the peer), or the whole
stack (gateway, replies, scheduler, analytics) on the tests' virtual host with a queue
prefix of its own, its bench tenants and their keyword rule; all removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection
from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts.topology import service_queues
from shared.platform.storage import CONTROL_DB, PyMongoError, mongo_client, tenant_db_name
from shared.wechat.simulator import Account
from tests.bench.probes import KEYWORD, account_from
from tests.support.gateway import forget_tenants, onboard, wait_ready
from tests.support.infra import ROOT, amqp_url, mongodb_url
from tests.support.processes import ServiceProcess, free_port, start_service

SERVICES = ("gateway", "replies", "scheduler", "analytics")
REPLY = "bench reply"
RULE = {
    "name": "bench keyword",
    "priority": 1,
    "enabled": True,
    "trigger": {"kind": "keyword", "match": "prefix", "pattern": KEYWORD},
    "reply": {"type": "text", "content": REPLY},
}


@dataclass(frozen=True, slots=True)
class Stack:
    prefix: str
    processes: dict[str, ServiceProcess]
    accounts: list[Account]
    connection: AbstractConnection  # the bench's own, for its tap

    @property
    def gateway(self) -> str:
        return self.processes["gateway"].url

    def pids(self) -> dict[str, int]:
        return {name: service.process.pid for name, service in self.processes.items()}


def spawn(name: str, module: str, *args: str) -> ServiceProcess:
    """``python -m <module> --port N <args>``, its output in a log file of its own."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix=f"wxp-bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    argv = [sys.executable, "-m", module, "--port", str(port), *args]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return ServiceProcess(name, port, process, Path(log.name), dict(os.environ))


@asynccontextmanager
async def running(service: ServiceProcess) -> AsyncIterator[ServiceProcess]:
    """Waits until ``service`` is ready; stops it (SIGTERM) on the way out."""
    try:
        async with ClientSession() as http:
            await wait_ready(http, service.url)
        yield service
    finally:
        await asyncio.to_thread(service.terminate)


CLEANUP_TIMEOUT_MS = 30_000  # server selection and connecting; reads wait twice as long


@asynccontextmanager
async def whole_stack(tenants: int, admin_key: str) -> AsyncIterator[Stack]:
    """The four services, ``tenants`` onboarded safe-mode accounts with the bench rule."""
    prefix = f"bench{secrets.token_hex(3)}"
    created: list[str] = []
    async with AsyncExitStack() as stack:  # cleanup runs in reverse order, errors or not
        connection = await aio_pika.connect(amqp_url())
        stack.push_async_callback(connection.close)
        stack.push_async_callback(delete_queues, connection, prefix)
        stack.push_async_callback(delete_tenants, created)
        processes = {}
        for name in SERVICES:
            service = start_service(name, queue_prefix=prefix, admin_key=admin_key)
            processes[name] = await stack.enter_async_context(running(service))
        accounts = await onboard_all(processes, tenants, admin_key, created)
        yield Stack(prefix, processes, accounts, connection)
        for service in processes.values():
            if complaints := warnings_in(service):
                print(f"{service.name}: {len(complaints)} warning/error lines ({service.log_path})")
                print(f"  {complaints[0][:300]}")


async def onboard_all(
    processes: dict[str, ServiceProcess], count: int, admin_key: str, created: list[str]
) -> list[Account]:
    """Onboards ``count`` accounts through the gateway and gives each the bench rule."""
    auth = {"Authorization": f"Bearer {admin_key}"}
    accounts = []
    async with ClientSession() as http:
        for i in range(count):
            tenant: dict[str, Any] = await onboard(
                http,
                processes["gateway"].url,
                admin_key,
                name=f"{STACK_TENANT} {i}",
                appid="wx" + secrets.token_hex(8),
                app_secret="bench-secret",
                account_type="service",
                encrypt_mode="safe",
            )
            created.append(tenant["id"])
            accounts.append(account_from(tenant))
            rules = f"{processes['replies'].url}/api/tenants/{tenant['id']}/rules"
            async with http.post(rules, json=RULE, headers=auth) as response:
                if response.status != 201:
                    raise RuntimeError(f"rule not created: {await response.text()}")
    return accounts


def warnings_in(service: ServiceProcess) -> list[str]:
    levels = ('"level": "warning"', '"level": "error"', '"level": "critical"')
    return [line for line in service.log().splitlines() if any(lv in line for lv in levels)]


async def delete_queues(connection: AbstractConnection, prefix: str) -> None:
    channel = await connection.channel()
    for spec in service_queues(prefix).values():
        for name in (spec.name, spec.dead_letter_name, spec.retry_name):
            await channel.queue_delete(name)
    await channel.close()


async def delete_tenants(tenant_ids: list[str]) -> None:
    """The bench tenants and what the services kept of them. Tens of thousands of dedup
    records and notes, each slice scanned on FerretDB: a client of long timeouts (the
    default's 6 s socket timeout ended a run here once, its figures unprinted). A failure
    is a line, not the run's end: the figures are measured by then."""
    mongo = mongo_client(mongodb_url(), app_name="wxp-bench", timeout_ms=CLEANUP_TIMEOUT_MS)
    try:
        await forget_tenants(mongo, tenant_ids)
        for tenant_id in tenant_ids:
            await mongo.drop_database(tenant_db_name(tenant_id))
    except PyMongoError as exc:
        print(f"bench cleanup: the bench tenants' records not all deleted: {exc!r}")
    finally:
        await mongo.close()


# the names the bench gives its tenants: the whole stack's ("Bench account <n>"),
# analytics' intake's and the scheduler's; what an earlier run left is found by them
STACK_TENANT = "Bench account"
ANALYTICS_TENANT = "Analytics bench"
SCHEDULER_TENANT = "Scheduler bench"
BENCH_TENANTS = {
    "$or": [
        {"name": {"$in": [ANALYTICS_TENANT, SCHEDULER_TENANT]}},
        {"name": {"$regex": f"^{STACK_TENANT} [0-9]+$"}},
    ]
}


async def delete_leftovers() -> int:
    """Removes the tenants an earlier bench run left in the tests' FerretDB (cut short, it
    never reached its clean-up), with their records and databases; answers how many. Each
    stack's analytics refreshes every tenant in its first round: 1,000 tenants left by an
    analytics intake cut short cost the next run's first scenario about 0.3 ms of analytics
    CPU and as much of FerretDB's an event (2026-12-04)."""
    mongo = mongo_client(mongodb_url(), app_name="wxp-bench", timeout_ms=CLEANUP_TIMEOUT_MS)
    try:
        found = await mongo[CONTROL_DB].tenants.find(BENCH_TENANTS, {"_id": 1}).to_list()
    finally:
        await mongo.close()
    left = [str(doc["_id"]) for doc in found]
    if left:
        await delete_tenants(left)
    return len(left)


COUNTERS = {  # the gateway's counters worth a note, by what they mean
    "wxp_gateway_events_kept_total": "kept for the relay",
    "wxp_gateway_reply_deadline_missed_total": "reply deadline missed",
    "wxp_gateway_dedup_skipped_total": "published without dedup",
}


async def metrics_of(base: str) -> str:
    """A service's /metrics text ("" when unreadable)."""
    async with ClientSession() as http, http.get(f"{base}/metrics") as response:
        return await response.text() if response.status == 200 else ""


def gateway_counters(text: str) -> dict[str, float]:
    """The gateway's notable counters in a scrape, summed over their labels."""
    totals = dict.fromkeys(COUNTERS.values(), 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in COUNTERS:
                totals[COUNTERS[sample.name]] += sample.value
    return totals
