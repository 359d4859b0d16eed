"""``make bench``: a fixed-load benchmark of the gateway against a bare aiohttp handler.

Scenarios, each against a server in its own process on 127.0.0.1:

* bare: ``tests.bench.bare``, whose handler reads the body and answers ``success``;
  the framework's ceiling on this machine.
* gateway (text): the real gateway, safe-mode encrypted text messages spread over the
  bench tenants. A tap on the broker plays the replies service and answers "none" at
  once, as it does when no rule matches.
* gateway (events): ``event:VIEW``, which the gateway publishes without waiting for a
  reply.
* passive reply round trip: the tap answers every message with a text reply; every
  answer is decrypted and matched to its request after the timed loop.

Every request is built, encrypted and signed before timing. An answer counts only if it
is right (``success``, or the matching reply) and, for the gateway, if the tap received
its event (a confirmed publish). Between gateway scenarios the bench waits for the
gateway's background writes to settle and deletes the bench tenants' dedup records, so
each scenario starts from the same database. The bench creates its own tenants and
queues (on the broker's ``wxp-test`` vhost, apart from ``make run``) and deletes them at
the end. ``--profile`` runs the gateway under cProfile and prints its top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import os
import pstats
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aio_pika
from aio_pika.abc import AbstractConnection
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector
from defusedxml.ElementTree import fromstring
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts.envelope import Envelope, event_event_id, message_event_id
from shared.contracts.topology import service_queues
from shared.platform.storage import CONTROL_DB, Client, mongo_client
from shared.wechat.samples import SAMPLES, build_xml
from shared.wechat.simulator import Account, open_reply, sign_request
from tests.support.bus import Tap
from tests.support.gateway import onboard
from tests.support.infra import ROOT, amqp_url, mongodb_url

READY_TIMEOUT = 30.0  # seconds for a server to answer /readyz
STOP_TIMEOUT = 20.0  # seconds for a server to exit after SIGTERM, then SIGKILL
TAP_TIMEOUT = 15.0  # seconds for the tap to see every accepted event
SETTLE_TIMEOUT = 30.0  # seconds for the gateway's background dedup writes to finish
REQUEST_TIMEOUT = 10.0  # seconds per request; a timeout counts as an error
ACCOUNT = "gh_bench"
XML_HEADERS = {"Content-Type": "text/xml"}
INFRA_PID_FILES = {  # the local stack's (deploy/local); left out when not running
    "FerretDB": ROOT / "var" / "run" / "ferretdb-test.pid",  # the tests' one, on 27018
    "RabbitMQ": ROOT / "var" / "rabbitmq" / "rabbit.pid",
}


@dataclass(frozen=True, slots=True)
class Workload:
    """What one run does: fixed, so runs on the same machine compare."""

    tenants: int = 20
    bare_requests: int = 10_000  # the bare server is fast: more requests for a stable rate
    warmup: int = 200
    requests: int = 2000
    concurrency: int = 32
    reply_warmup: int = 50
    reply_requests: int = 1000
    reply_concurrency: int = 8


@dataclass(frozen=True, slots=True)
class Probe:
    """One pre-built webhook request, and the envelope id the gateway should publish."""

    target: str  # path and query
    body: bytes
    account: Account
    event_id: str


@dataclass(frozen=True, slots=True)
class Run:
    """The answers to a list of probes, in probe order, and how long they took."""

    probes: list[Probe]
    answers: list[tuple[int, bytes]]
    latencies: list[float]
    seconds: float


Check = Callable[[Probe, int, bytes], bool]
Answer = Callable[[Envelope], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Row:
    """One scenario's figures."""

    name: str
    requests: int
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mb: float  # the server's peak resident memory during the timed run
    cpu: dict[str, float]  # % of one core over the timed run, by process
    first_error: str = ""
    confirmed: str = "-"  # events the tap received / accepted answers
    internals: list[str] = field(default_factory=list)  # the gateway's own view


# ---------------------------------------------------------------- requests


def new_account(tenant_id: str) -> Account:
    """Keys for a tenant that exists nowhere (the bare server checks nothing)."""
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return Account(
        tenant_id=tenant_id,
        appid="wx" + secrets.token_hex(8),
        token=secrets.token_hex(16),
        encoding_aes_key="".join(secrets.choice(alnum) for _ in range(43)),
        encrypt_mode="safe",
    )


def account_from(created: dict[str, Any]) -> Account:
    return Account(
        tenant_id=created["id"],
        appid=created["appid"],
        token=created["token"],
        encoding_aes_key=created["encoding_aes_key"],
        encrypt_mode=created["encrypt_mode"],
    )


def build_probe(account: Account, sample: str, serial: int, now: int) -> Probe:
    """A signed, encrypted request; ``serial`` makes its MsgId (or its sender) unique."""
    openid = f"o_bench_{serial}"
    if sample.startswith("event:"):
        msg_id = None
        key = str(SAMPLES[sample].get("EventKey", ""))
        event = sample.removeprefix("event:")
        event_id = event_event_id(account.tenant_id, openid, str(now), event, key)
    else:
        msg_id = str(serial)
        event_id = message_event_id(account.tenant_id, msg_id)
    xml = build_xml(sample, openid=openid, account=ACCOUNT, create_time=now, msg_id=msg_id)
    signed = sign_request(account, xml, openid=openid, timestamp=now)
    target = f"/wx/{account.tenant_id}?{urlencode(signed.query)}"
    return Probe(target=target, body=signed.body, account=account, event_id=event_id)


def build_probes(
    accounts: list[Account], sample: str, count: int, serials: Iterator[int]
) -> list[Probe]:
    now = int(time.time())
    return [
        build_probe(accounts[i % len(accounts)], sample, next(serials), now) for i in range(count)
    ]


def is_success(_: Probe, status: int, body: bytes) -> bool:
    return status == 200 and body == b"success"


def reply_text(event_id: str) -> str:
    return f"bench reply to {event_id}"


def is_matching_reply(probe: Probe, status: int, body: bytes) -> bool:
    """The answer decrypts, its signature verifies, and it replies to this very message."""
    if status != 200:
        return False
    try:
        xml = open_reply(probe.account, body, encrypted=True)
        return bool(fromstring(xml).findtext("Content") == reply_text(probe.event_id))
    except Exception:  # anything that does not open is a wrong body
        return False


def answer_none(_: Envelope) -> dict[str, Any] | None:
    return None


def answer_text(event: Envelope) -> dict[str, Any] | None:
    return {"type": "text", "content": reply_text(event.id)}


# ---------------------------------------------------------------- load


async def fire(base: str, probes: list[Probe], concurrency: int) -> Run:
    """Posts every probe with ``concurrency`` workers over one pooled session."""
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(probes)
    latencies = [0.0] * len(probes)
    indexes = iter(range(len(probes)))

    async def worker(http: ClientSession) -> None:
        for i in indexes:  # shared: each index is taken by exactly one worker
            started = time.perf_counter()
            try:
                async with http.post(
                    base + probes[i].target, data=probes[i].body, headers=XML_HEADERS
                ) as response:
                    answers[i] = (response.status, await response.read())
            except (ClientError, TimeoutError) as exc:
                answers[i] = (0, repr(exc).encode())
            latencies[i] = time.perf_counter() - started

    connector = TCPConnector(limit=concurrency)
    timeout = ClientTimeout(total=REQUEST_TIMEOUT)
    async with ClientSession(connector=connector, timeout=timeout) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Run(probes=probes, answers=answers, latencies=latencies, seconds=seconds)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
    return ordered[rank - 1]


def accepted(run: Run, check: Check) -> list[Probe]:
    return [
        probe
        for probe, (status, body) in zip(run.probes, run.answers, strict=True)
        if check(probe, status, body)
    ]


def first_error(run: Run, check: Check) -> str:
    for probe, (status, body) in zip(run.probes, run.answers, strict=True):
        if not check(probe, status, body):
            return f"HTTP {status} {body[:80]!r}"
    return ""


def summarize(name: str, run: Run, concurrency: int, check: Check) -> Row:
    count = len(run.probes)
    return Row(
        name=name,
        requests=count,
        concurrency=concurrency,
        rps=count / run.seconds,
        p50_ms=percentile(run.latencies, 0.50) * 1000,
        p99_ms=percentile(run.latencies, 0.99) * 1000,
        errors=count - len(accepted(run, check)),
        rss_mb=0.0,
        cpu={},
        first_error=first_error(run, check),
    )


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": fields[0] is field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def infra_pids() -> dict[str, int]:
    pids = {}
    for name, path in INFRA_PID_FILES.items():
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
        if Path(f"/proc/{pid}").exists():
            pids[name] = pid
    return pids


@dataclass(frozen=True, slots=True)
class CpuWatch:
    """CPU time of a few processes, to tell who was busy during a timed run."""

    pids: dict[str, int]
    started: dict[str, float]

    @classmethod
    def start(cls, pids: dict[str, int]) -> CpuWatch:
        return cls(pids=pids, started={name: cpu_seconds(pid) for name, pid in pids.items()})

    def percent(self, seconds: float) -> dict[str, float]:
        return {
            name: (cpu_seconds(pid) - self.started[name]) / seconds * 100
            for name, pid in self.pids.items()
        }


@dataclass
class Server:
    """A server process on 127.0.0.1, its output in ``log``."""

    name: str
    process: asyncio.subprocess.Process
    base: str
    log: Path

    @classmethod
    async def start(
        cls, name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path
    ) -> Server:
        log = workdir / f"{name}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *argv, cwd=ROOT, env=env, stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL
            )
        return cls(name=name, process=process, base=f"http://127.0.0.1:{port}", log=log)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        async with ClientSession(timeout=ClientTimeout(total=2)) as http:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
                try:
                    async with http.get(f"{self.base}/readyz") as response:
                        if response.status == 200:
                            return
                except (ClientError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready in {READY_TIMEOUT}s ({self.log})")
                await asyncio.sleep(0.1)

    def reset_peak_rss(self) -> None:
        """Resets VmHWM (Linux: clear_refs 5), so the next peak is the timed run's."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                print(f"{self.name} ignored SIGTERM for {STOP_TIMEOUT}s; killing it")
                self.process.kill()
                await self.process.wait()
        return self.process.returncode if self.process.returncode is not None else -1

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def complaints(self) -> list[str]:
        """Its log lines at warning level or above."""
        levels = ('"level": "warning"', '"level": "error"', '"level": "critical"')
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if any(lv in line for lv in levels)]


async def start_bare(workdir: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "tests.bench.bare", "--port", str(port)]
    return await Server.start("bare", argv, dict(os.environ), port, workdir)


async def start_gateway(workdir: Path, prefix: str, profile: Path | None) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "WXP_HOST": "127.0.0.1",
        "AMQP_URL": amqp_url(),
        "MONGODB_URL": mongodb_url(),
        "WXP_QUEUE_PREFIX": prefix,
    }
    runner = ["-m", "cProfile", "-o", str(profile)] if profile else []
    argv = [sys.executable, *runner, "-m", "services.gateway"]
    return await Server.start("gateway", argv, env, port, workdir)


# ---------------------------------------------------------------- the gateway's view


async def scrape(base: str) -> dict[str, float]:
    """The server's metric samples (no histogram buckets) by name and labels; {} if none."""
    async with ClientSession() as http, http.get(f"{base}/metrics") as response:
        if response.status != 200:
            return {}
        text = await response.text()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                labels = "".join(f"|{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[sample.name + labels] = sample.value
    return samples


STAGES = (  # label, histogram, its labels as scrape() keys them
    ("handler", "wxp_http_request_duration_seconds", "|route=/wx/{tenant_id}"),
    ("publish confirm", "wxp_gateway_publish_seconds", ""),
    ("reply wait", "wxp_gateway_reply_wait_seconds", ""),
)
COUNTERS = (  # label, counter
    ("published without dedup", "wxp_gateway_dedup_skipped_total"),
    ("reply deadline missed", "wxp_gateway_reply_deadline_missed_total"),
    ("kept for the relay", "wxp_gateway_events_kept_total"),
)


def internals(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """The gateway's stage means and notable counters over the timed run."""
    if not after:
        return []

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    means = []
    for label, name, labels in STAGES:
        count = delta(f"{name}_count{labels}")
        if count:
            means.append(f"{label} {delta(f'{name}_sum{labels}') / count * 1000:.1f} ms")
    counts = [f"{label} {delta(name):.0f}" for label, name in COUNTERS if delta(name)]
    return [f"gateway means: {', '.join(means)}", *counts]


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    sample: str  # a key of shared.wechat.samples.SAMPLES
    warmup: int
    requests: int
    concurrency: int
    check: Check = is_success
    answer: Answer = answer_none  # what the tap answers passive-reply requests with


def bare_scenario(workload: Workload) -> Scenario:
    return Scenario(
        "bare aiohttp", "text", workload.warmup, workload.bare_requests, workload.concurrency
    )


def gateway_plan(workload: Workload) -> list[Scenario]:
    load = (workload.warmup, workload.requests, workload.concurrency)
    return [
        Scenario('gateway (text, reply "none")', "text", *load),
        Scenario("gateway (events, no reply wait)", "event:VIEW", *load),
        Scenario(
            "passive reply round trip",
            "text",
            workload.reply_warmup,
            workload.reply_requests,
            workload.reply_concurrency,
            check=is_matching_reply,
            answer=answer_text,
        ),
    ]


async def measure(
    scenario: Scenario, server: Server, accounts: list[Account], serials: Iterator[int]
) -> tuple[Row, Run]:
    """Warm-up, then the timed run; every request is built before either."""
    warmup = build_probes(accounts, scenario.sample, scenario.warmup, serials)
    probes = build_probes(accounts, scenario.sample, scenario.requests, serials)
    await fire(server.base, warmup, scenario.concurrency)
    server.reset_peak_rss()
    metrics = await scrape(server.base)
    cpu = CpuWatch.start({"server": server.pid, "bench client": os.getpid(), **infra_pids()})
    run = await fire(server.base, probes, scenario.concurrency)
    row = replace(
        summarize(scenario.name, run, scenario.concurrency, scenario.check),
        rss_mb=server.peak_rss_mb(),
        cpu=cpu.percent(run.seconds),
        internals=internals(metrics, await scrape(server.base)),
    )
    return row, run


async def confirmed(tap: Tap, event_ids: set[str]) -> int:
    """How many of ``event_ids`` the tap received, waiting up to TAP_TIMEOUT for all."""
    deadline = time.monotonic() + TAP_TIMEOUT
    while True:
        got = len(event_ids & {event.id for event in tap.events})
        if got == len(event_ids) or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.1)


async def with_confirmation(row: Row, run: Run, check: Check, tap: Tap) -> Row:
    """Counts an accepted answer whose event never reached the broker as an error."""
    ids = {probe.event_id for probe in accepted(run, check)}
    got = await confirmed(tap, ids)
    return replace(row, errors=row.errors + len(ids) - got, confirmed=f"{got}/{len(ids)}")


async def settle(mongo: Client, tenant_ids: list[str]) -> str:
    """Waits for the gateway's batched "published" notes, then deletes the bench's records.

    Done when every dedup record has its note, or when their number stops growing (an
    event that went out without dedup may have no record, or no note).
    """
    control = mongo[CONTROL_DB]
    scope = {"tenant_id": {"$in": tenant_ids}}
    started = time.monotonic()
    seen = await control.gateway_seen.count_documents(scope)
    marked, previous = await control.gateway_published.count_documents(scope), -1
    while marked < seen and marked != previous and time.monotonic() - started < SETTLE_TIMEOUT:
        await asyncio.sleep(0.5)
        marked, previous = await control.gateway_published.count_documents(scope), marked
    took = time.monotonic() - started
    await control.gateway_seen.delete_many(scope)
    await control.gateway_published.delete_many(scope)
    return f"dedup records: {seen}; {seen - marked} without a published note {took:.1f} s after"


async def bench_bare(workload: Workload, workdir: Path, serials: Iterator[int]) -> Row:
    accounts = [new_account(f"bare{i}") for i in range(workload.tenants)]
    server = await start_bare(workdir)
    try:
        await server.wait_ready()
        row, _ = await measure(bare_scenario(workload), server, accounts, serials)
    finally:
        await server.stop()
    return row


async def onboard_all(base: str, count: int, created: list[str]) -> list[Account]:
    """Onboards ``count`` safe-mode service accounts, noting each id in ``created`` at once."""
    admin_key = os.environ["WXP_ADMIN_KEY"]
    accounts: list[Account] = []
    async with ClientSession() as http:
        for i in range(count):
            tenant = await onboard(
                http,
                base,
                admin_key,
                name=f"Bench account {i}",
                appid="wx" + secrets.token_hex(8),
                app_secret="bench-secret",
                account_type="service",
                encrypt_mode="safe",
            )
            created.append(tenant["id"])
            accounts.append(account_from(tenant))
    return accounts


async def bench_gateway(
    workload: Workload, workdir: Path, serials: Iterator[int], profile: Path | None
) -> list[Row]:
    prefix = f"bench{secrets.token_hex(3)}"
    created: list[str] = []
    rows: list[Row] = []
    async with AsyncExitStack() as stack:  # cleanup runs in reverse order, errors or not
        connection = await aio_pika.connect(amqp_url())
        stack.push_async_callback(connection.close)
        stack.push_async_callback(delete_queues, connection, prefix)
        mongo = mongo_client(mongodb_url(), app_name="wxp-bench")
        stack.push_async_callback(mongo.close)
        stack.push_async_callback(delete_tenants, mongo, created)
        server = await start_gateway(workdir, prefix, profile)
        stack.push_async_callback(stop_gateway, server)
        await server.wait_ready()
        accounts = await onboard_all(server.base, workload.tenants, created)
        keys = [f"{account.tenant_id}.#" for account in accounts]
        tap = await Tap.open(connection, f"{prefix}.tap", keys, answer=answer_none)
        stack.push_async_callback(tap.close)
        for scenario in gateway_plan(workload):
            tap.answer = scenario.answer
            row, run = await measure(scenario, server, accounts, serials)
            row = await with_confirmation(row, run, scenario.check, tap)
            rows.append(replace(row, internals=[*row.internals, await settle(mongo, created)]))
    return rows


async def stop_gateway(server: Server) -> None:
    code = await server.stop()
    complaints = server.complaints()
    print(f"gateway exited with {code}; {len(complaints)} warning/error log lines ({server.log})")
    for line in complaints[:3]:
        print(f"  {line[:300]}")


async def delete_queues(connection: AbstractConnection, prefix: str) -> None:
    channel = await connection.channel()
    for spec in service_queues(prefix).values():
        await channel.queue_delete(spec.name)
        await channel.queue_delete(spec.dead_letter_name)
    await channel.close()


async def delete_tenants(mongo: Client, tenant_ids: list[str]) -> None:
    control = mongo[CONTROL_DB]
    for collection in ("gateway_seen", "gateway_outbox"):
        await control[collection].delete_many({"tenant_id": {"$in": tenant_ids}})
    await control.tenants.delete_many({"_id": {"$in": tenant_ids}})


# ---------------------------------------------------------------- report


def print_table(workload: Workload, rows: list[Row], seconds: float) -> None:
    bare = rows[0].rps
    header = (
        f"{'scenario':<33}{'requests':>9}{'conc':>5}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'errors':>7}{'RSS MB':>8}{'CPU %':>7}{'vs bare':>8}{'confirmed':>11}"
    )
    print(
        f"\nwxp gateway bench: {workload.tenants} tenants, warm-up of {workload.warmup} "
        f"requests ({workload.reply_warmup} for the round trip), 127.0.0.1, "
        f"{os.cpu_count()} CPUs"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name:<33}{row.requests:>9}{row.concurrency:>5}{row.rps:>7.0f}"
            f"{row.p50_ms:>8.1f}{row.p99_ms:>8.1f}{row.errors:>7}{row.rss_mb:>8.1f}"
            f"{row.cpu['server']:>7.0f}{row.rps / bare:>8.2f}{row.confirmed:>11}"
        )
    print(
        "\nRSS MB: the server's peak resident memory during the timed run. CPU %: its CPU "
        "time\nover the run, in % of one core. confirmed: events the tap received / "
        "accepted answers."
    )
    for row in rows:
        print(f"\n{row.name}:")
        shares = ", ".join(f"{name} {pct:.0f}" for name, pct in row.cpu.items())
        per_request = row.cpu["server"] / 100 / row.rps * 1000
        print(f"  CPU % of one core: {shares}")
        print(
            f"  server CPU per request: {per_request:.2f} ms "
            f"(a CPU-bound ceiling of {1000 / per_request:.0f} req/s per core)"
        )
        for line in row.internals:
            print(f"  {line}")
        if row.first_error:
            print(f"  first error: {row.first_error}")
    print(f"\nwhole bench took {seconds:.0f} s")


def print_profile(path: Path, limit: int = 25) -> None:
    if not path.exists():
        print(f"no profile written at {path}")
        return
    for order in ("cumulative", "tottime"):
        print(f"\ngateway profile, top {limit} by {order} ({path}):")
        pstats.Stats(str(path)).strip_dirs().sort_stats(order).print_stats(limit)


async def bench(workload: Workload, profile: bool) -> None:
    for name in ("WXP_MASTER_KEY", "WXP_ADMIN_KEY"):
        if not os.environ.get(name):
            sys.exit(f"{name} is not set: run the bench with `make bench`")
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="wxp-bench-"))
    profile_path = workdir / "gateway.prof" if profile else None
    serials = itertools.count(1)
    rows = [await bench_bare(workload, workdir, serials)]
    rows += await bench_gateway(workload, workdir, serials, profile_path)
    print_table(workload, rows, time.perf_counter() - started)
    if profile_path is not None:
        print_profile(profile_path)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fixed-load benchmark of the gateway.")
    parser.add_argument(
        "--profile", action="store_true", help="run the gateway under cProfile (slower)"
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=Workload().requests,
        help="timed requests per gateway throughput scenario (default %(default)s)",
    )
    args = parser.parse_args()
    logging.getLogger("aiormq").setLevel(logging.ERROR)  # the tap's queue goes before its consumer
    asyncio.run(bench(Workload(requests=args.requests), args.profile))


if __name__ == "__main__":
    main()
