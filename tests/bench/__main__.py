"""``make bench``'s HTTP and consumer scenarios: ``python -m tests.bench``.

wrk drives each HTTP scenario with pre-built, unique, signed, safe-mode encrypted
requests (see probes.py, cycle.lua, http_load.py), after a short warm-up:

* ``bare``: bare aiohttp answering ``success`` (tests.bench.bare), the framework's ceiling;
* ``peer``: wechatpy inline (tests.bench.peer), the anchor every ratio is taken against;
* ``gateway-events``: the real stack, VIEW events (published, no reply wait);
* ``gateway-text``: the real stack, text messages answered by a real keyword rule in the
  real replies service (a passive reply);
* ``events-paced``, ``text-paced``: the same two paced at the issue's goal rates (0.35×
  and 0.25× the peer's req/s in this run; fewer only when all 32 connections are busy):
  requests go at random times at that rate on the whole (http_load.py), so the p50/p99
  are those a reader meets at that load, where the saturated runs' are 32 connections ÷
  the rate (Little's law).

The stack is the four services as processes on the tests' virtual host with a queue
prefix of their own (stack.py). A tap counts the accepted events on the bus (tap.py), and
the gateway's histograms, scraped before and after, say where its requests waited
(stages.py).
Then the consumer frame's scenarios (tests.bench.consumer), when that module exists, and
the cost of the gateway's purge of a window's records (tests.bench.purge).
Figures are printed and written to var/bench/latest.json (report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from aiohttp import ClientSession

from shared.contracts.bundle import bundle_routing_key
from tests.bench.cpu import CpuWatch, MachineWatch, infra_pids
from tests.bench.http_load import Load, run_wrk
from tests.bench.probes import build_probes, new_account, write_pool
from tests.bench.purge import purge_rows
from tests.bench.report import (
    EVENTS,
    EVENTS_PACED,
    GOAL_RATES,
    PEER,
    PEER_AFTER,
    TEXT,
    TEXT_PACED,
    Row,
    print_tables,
    write_json,
)
from tests.bench.stack import (
    REPLY,
    Stack,
    delete_leftovers,
    gateway_counters,
    metrics_of,
    running,
    spawn,
    whole_stack,
)
from tests.bench.stages import ANSWERS, histograms, journey_note, stage_note, together_note
from tests.bench.tap import BusTap
from tests.support.bus import eventually
from tests.support.gateway import send
from tests.support.processes import PROFILE_VAR

TENANTS = 20
WARMUP = Load(seconds=2.0)
PEER_POOL = 24_000  # the bare server and the peer keep nothing: cycling is harmless
PEER_AGAIN = Load(seconds=4.0)  # the peer's second, shorter run: its CPU per request only
PEER_AGAIN_POOL = 4_000
WARMUP_POOL = 3_000
MIN_POOL = 4_000


async def measure(
    key: str, title: str, base: str, pool: Path, pids: dict[str, int], load: Load, server: str
) -> Row:
    """The timed run, with every process's CPU time watched."""
    watch, machine = CpuWatch.start({**pids, **infra_pids()}), MachineWatch.start()
    result = await run_wrk(base, pool, load)
    return Row(key, title, server, result, watch.spent(), notes=[machine.note()])


async def single_servers(
    workdir: Path, serials: Iterator[int], load: Load, *, again: bool = False
) -> list[Row]:
    """Bare aiohttp and the peer; ``again``: the peer alone, after the gateway scenarios,
    to see whether the machine's speed moved meanwhile."""
    account = new_account("peer")
    size = PEER_AGAIN_POOL if again else PEER_POOL
    pool = write_pool(workdir / "peer.pool", build_probes([account], "text", size, serials))
    peer_args = ("--token", account.token, "--aes-key", account.encoding_aes_key)
    peer = (*peer_args, "--appid", account.appid)
    servers: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
        ("bare", "bare aiohttp (success)", "tests.bench.bare", ()),
        (PEER, "peer: wechatpy inline, text reply", "tests.bench.peer", peer),
    )
    if again:
        servers = ((PEER_AFTER, "peer, again after the gateway", "tests.bench.peer", peer),)
    rows = []
    for key, title, module, args in servers:
        async with running(spawn(key, module, *args)) as server:
            await run_wrk(server.url, pool, WARMUP)
            pids = {key: server.process.pid}
            rows.append(await measure(key, title, server.url, pool, pids, load, key))
    return rows


async def replies_answer(stack: Stack) -> None:
    """Waits until a text gets the bench rule's reply through the whole stack."""
    account = stack.accounts[0]
    async with ClientSession() as http:

        async def answered() -> bool:
            answer = await send(http, stack.gateway, account, overrides={"Content": "bench check"})
            return REPLY.encode() in answer.plaintext(account)

        await eventually(answered, timeout=20, what="the bench rule's reply")


async def gateway_scenario(
    stack: Stack,
    tap: BusTap,
    key: str,
    title: str,
    sample: str,
    size: int,
    load: Load,
    workdir: Path,
    serials: Iterator[int],
) -> Row:
    probes = build_probes(stack.accounts, sample, size, serials)
    if load.rate == 0:  # the paced runs follow the saturated ones: the stack is warm
        warm = build_probes(stack.accounts, sample, WARMUP_POOL, serials)
        await run_wrk(stack.gateway, write_pool(workdir / f"{key}.warm", warm), WARMUP)
    await tap.queue.purge()
    pool = write_pool(workdir / f"{key}.pool", probes)
    replies = stack.processes["replies"].url
    before, replies_before = await metrics_of(stack.gateway), await metrics_of(replies)
    row = await measure(key, title, stack.gateway, pool, stack.pids(), load, "gateway")
    after, replies_after = await metrics_of(stack.gateway), await metrics_of(replies)
    sent = probes[: min(row.result.sent, len(probes))]
    ids = {probe.event_id for probe in sent}
    confirmed = await tap.confirmed(ids, enough=row.wanted_on_bus)
    notes = [*row.notes]
    notes += [f"passive replies: {row.result.replied}"] if sample == "text" else []
    stages = stage_note(histograms(before), histograms(after))
    notes += [f"gateway histograms: {stages}"] if stages else []
    together = together_note(before, after)
    notes += [together] if together else []
    if sample == "text":
        answers = together_note(replies_before, replies_after, ANSWERS, "answers")
        notes += [answers] if answers else []
        journey = journey_note((before, after), (replies_before, replies_after), row.result.mean_ms)
        notes += [journey] if journey else []
    counted, earlier = gateway_counters(after), gateway_counters(before)
    counts = {name: counted[name] - earlier[name] for name in counted}
    notes += [f"gateway: {name} {count:.0f}" for name, count in counts.items() if count]
    if row.result.wrapped:
        notes.append(f"pool of {row.result.pool} sent {row.result.sent} times: duplicates")
    return Row(key, title, "gateway", row.result, row.cpu_seconds, confirmed, notes)


async def gateway_scenarios(
    workdir: Path, serials: Iterator[int], load: Load, peer_rps: float
) -> list[Row]:
    size = max(MIN_POOL, int(peer_rps * 0.6 * load.seconds))  # more than 0.6× the peer wraps
    async with whole_stack(TENANTS, os.environ["WXP_ADMIN_KEY"]) as stack:
        # events published together travel as bundles, under ``_bundle`` (bundle.py)
        keys = [f"{account.tenant_id}.#" for account in stack.accounts]
        keys += [bundle_routing_key("msg.text"), bundle_routing_key("event.view")]
        tap = await BusTap.open(stack.connection, f"{stack.prefix}.tap", keys)
        try:
            await replies_answer(stack)
            paced = {
                key: Load.paced(GOAL_RATES[key] * peer_rps, load.seconds) for key in GOAL_RATES
            }
            plan = (
                (EVENTS, "gateway, VIEW events (no reply wait)", "event:VIEW", load),
                (TEXT, "gateway, text -> passive reply (rule)", "text", load),
                (EVENTS_PACED, "gateway, VIEW events, paced", "event:VIEW", paced[EVENTS]),
                (TEXT_PACED, "gateway, text -> passive reply, paced", "text", paced[TEXT]),
            )
            return [
                await gateway_scenario(
                    stack, tap, key, title, sample, pool_size(run, size), run, workdir, serials
                )
                for key, title, sample, run in plan
            ]
        finally:
            await tap.close()


def pool_size(load: Load, saturated: int) -> int:
    """Requests to build for a run: a paced one sends ``rate`` a second (half as many again,
    so none wraps); a saturated one, ``saturated``."""
    if load.rate == 0:
        return saturated
    return int(1.5 * load.rate * load.seconds) + load.connections


async def consumer_rows() -> list[dict[str, float | str]]:
    """tests.bench.consumer's scenarios, when the module is there."""
    if importlib.util.find_spec("tests.bench.consumer") is None:
        print("tests/bench/consumer.py is missing: no consumer-frame scenario")
        return []
    from tests.bench.consumer import consumer_scenarios

    rows: list[dict[str, float | str]] = await consumer_scenarios()
    return rows


async def bench(load: Load) -> None:
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="wxp-bench-"))
    serials = itertools.count(int(time.time()) * 1000)  # unique across runs too
    if left := await delete_leftovers():
        print(f"removed {left} tenants an earlier bench run left behind")
    rows = {row.key: row for row in await single_servers(workdir, serials, load)}
    print(f"bare and peer done at {time.perf_counter() - started:.0f} s")
    for row in await gateway_scenarios(workdir, serials, load, rows[PEER].result.rps):
        rows[row.key] = row
    print(f"gateway scenarios done at {time.perf_counter() - started:.0f} s")
    for row in await single_servers(workdir, serials, PEER_AGAIN, again=True):
        rows[row.key] = row
    consumer = await consumer_rows()
    purge = await purge_rows()
    print_tables(rows, consumer, load, purge)
    path = write_json(rows, consumer, load, time.perf_counter() - started, purge)
    print(f"\nfigures in {path}; the bench took {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description="wrk-driven bench of the webhook path")
    parser.add_argument("--seconds", type=float, default=Load().seconds, help="per scenario")
    parser.add_argument("--connections", type=int, default=Load().connections)
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="run the services under cProfile, a stats file per process in DIR (slower)",
    )
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        os.environ[PROFILE_VAR] = str(Path(args.profile).resolve())
    for name in ("WXP_MASTER_KEY", "WXP_ADMIN_KEY"):
        if not os.environ.get(name):
            sys.exit(f"{name} is not set: run the bench with `make bench`")
    asyncio.run(bench(Load(seconds=args.seconds, connections=args.connections)))


if __name__ == "__main__":
    main()
