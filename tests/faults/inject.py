"""Striking the planned faults at their times, and noting what each may excuse.

A kill excuses duplicates of what was in flight on the killed process: the webhooks
WeChat had open on a killed gateway (seen from WeChat's side), and the outbox entries
claimed by a relay when it died. A connection that dies under a publish is the same
kill, one level down (the broker may have taken a message whose confirm never came
back): a cut link excuses what was in flight on its gateway and the claimed outbox
entries, and so does the broker's stop for every webhook open while it stopped. FerretDB's
kill excuses the webhooks with an attempt while it was down or being reconnected to.
A black hole on a gateway's database link excuses the webhooks that gateway refused (503)
meanwhile: their keep timed out and may still land, and the gateway leaves it for the
relay rather than risk deleting what a retry relies on (at-least-once: the retry may
publish too). Nothing else excuses a duplicate: latency excuses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field

from shared.platform.bus import LONGEST_RECONNECT_WAIT
from shared.platform.storage import CONTROL_DB, PyMongoError
from tests.faults.plan import Fault
from tests.faults.stack import Stack
from tests.faults.verdict import Excuse, base_id, overlapping, refused_on
from tests.faults.wechat import WeChatServer
from tests.support.bus import eventually
from tests.support.infra import broker_app

RECONNECT = 2.0  # seconds after FerretDB answers again that the services may still fail
# Seconds after the broker starts again within which the services reconnect (their
# backoff is capped at 5 s, and jittered up to half as much again: the last attempt before
# the broker was back may be followed by a wait of 7.5 s) and a publish may still be
# confirmed late. Seed 203944 had a gateway connect 7.55 s after the restart, and
# duplicates of what it published then, past a window that allowed 7 s in all.
BROKER_RECONNECT = LONGEST_RECONNECT_WAIT + 2.0


@dataclass
class Injector:
    stack: Stack
    wechat: WeChatServer
    log: list[str] = field(default_factory=list)
    excuses: list[Excuse] = field(default_factory=list)
    struck: int = 0
    _windows: list[tuple[str, float, float, frozenset[str]]] = field(default_factory=list)
    _refusals: list[tuple[str, str, float, float]] = field(default_factory=list)
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    async def run(self, faults: tuple[Fault, ...]) -> None:
        for fault in faults:
            if (wait := fault.at - self.wechat.clock()) > 0:
                await asyncio.sleep(wait)  # the schedule's pace, not an assertion
            began = self.wechat.clock()
            await getattr(self, fault.kind)(fault)
            self.log.append(f"{fault.describe()} (struck {began:.1f}-{self.wechat.clock():.1f}s)")
        await asyncio.gather(*self._background)  # replacements ready

    def windows_excused(self) -> None:
        """Once the traffic is over: the webhooks each database window excuses, and those
        a gateway published without its dedup check (its log says which)."""
        for cause, start, end, also in self._windows:
            ids = overlapping(self.wechat.chains, start, end) | also
            self.excuses.append(Excuse(cause, ids))
        for cause, replica, start, end in self._refusals:
            ids = refused_on(self.wechat.chains, replica, start, end)
            self.excuses.append(Excuse(cause, ids))
        logs = [process.log() for process in self.stack.logs() if "gateway" in process.name]
        self.excuses.append(Excuse("published unchecked, the database slow", unchecked(logs)))

    async def latency(self, fault: Fault) -> None:
        self.struck += 1
        await self.stack.proxies.delay(fault.target, fault.delay)
        await asyncio.sleep(fault.seconds)
        await self.stack.proxies.heal(fault.target)

    async def blackhole(self, fault: Fault) -> None:
        self.struck += 1
        start = self.wechat.clock()
        await self.stack.proxies.blackhole(fault.target)
        await asyncio.sleep(fault.seconds)
        await self.stack.proxies.heal(fault.target)
        replica, link = fault.target.rsplit("-", 1)
        if replica.startswith("gateway") and link == "db":
            end = self.wechat.clock() + RECONNECT
            self._refusals.append((f"refused while {replica}'s database hung", replica, start, end))

    async def cut(self, fault: Fault) -> None:
        self.struck += 1
        replica = fault.target.rsplit("-", 1)[0]
        in_flight = self.wechat.gateways.in_flight(replica)
        await self.stack.proxies.cut(fault.target)
        ids = {c.event_id for c in self.wechat.chains if c.hook.n in in_flight}
        claimed = await self._claims() if replica.startswith("gateway") else frozenset()
        self.excuses.append(
            Excuse(f"in flight on the cut {fault.target}", frozenset(ids | claimed))
        )

    async def broker(self, fault: Fault) -> None:
        self.struck += 1
        start = self.wechat.clock()
        await broker_app("stop")
        try:
            stopped = self.wechat.clock()
            claimed = await self._claims()
            await asyncio.sleep(fault.seconds)
        finally:
            restarting = self.wechat.clock()
            await broker_app("start")
        self._windows.append(("in flight as the broker stopped", start, stopped, claimed))
        # A publish on the connection a service makes as the broker comes back may be
        # confirmed late (its quorum queues are still recovering); the outbox's hold on it
        # ends, the relay publishes it, and then the first copy is confirmed too: twice,
        # as at-least-once allows. Seeds 851790 and 25690 showed it.
        back = self.wechat.clock() + BROKER_RECONNECT
        self._windows.append(("sent as the broker came back", restarting, back, frozenset()))

    async def ferretdb(self, fault: Fault) -> None:
        self.struck += 1
        servers = self.stack.servers
        start = self.wechat.clock()
        await servers.kill_database()
        try:
            await asyncio.sleep(fault.seconds)
        finally:
            await servers.start_database()
        await eventually(self._database_answers, timeout=30, what="FerretDB back")
        end = self.wechat.clock() + RECONNECT
        self._windows.append(("during the FerretDB kill", start, end, frozenset()))

    async def kill_gateway(self, fault: Fault) -> None:
        self.struck += 2  # a slow broker link, then the kill
        route = f"{fault.target}-amqp"
        await self.stack.proxies.delay(route, fault.delay)
        await asyncio.sleep(fault.seconds)
        in_flight = self.wechat.gateways.in_flight(fault.target)
        self.stack.kill(fault.target)
        killed_at = time.monotonic()
        claimed = await self._claims()
        await self.stack.proxies.heal(route)
        ids = {c.event_id for c in self.wechat.chains if c.hook.n in in_flight}
        self.excuses.append(
            Excuse(f"in flight on the killed {fault.target}", frozenset(ids | claimed))
        )
        self.log.append(
            f"killed {fault.target}: {len(ids)} webhooks open, {len(claimed)} outbox claims "
            f"(read {time.monotonic() - killed_at:.2f}s after)"
        )
        self._replace(fault.target)

    async def kill_replies(self, fault: Fault) -> None:
        self.struck += 1
        self.stack.kill(fault.target)
        self._replace(fault.target)

    def _replace(self, replica: str) -> None:
        self._background.append(asyncio.ensure_future(self.stack.replace(replica)))

    async def _claims(self) -> frozenset[str]:
        """The kept events a relay had claimed (the killed one's among them): claimed and
        still in the outbox, so perhaps published and not yet released."""
        control = self.stack.servers.mongo[CONTROL_DB]
        with contextlib.suppress(PyMongoError):
            claimed = {d["_id"] async for d in control.gateway_relay_claims.find({}, {"_id": 1})}
            kept = control.gateway_outbox.find({"_id": {"$in": sorted(claimed)}}, {"_id": 1})
            return frozenset([base_id(str(d["_id"])) async for d in kept])
        return frozenset()

    async def _database_answers(self) -> bool:
        try:
            await asyncio.wait_for(self.stack.servers.mongo.admin.command("ping"), 2)
        except (PyMongoError, TimeoutError):
            return False
        return True


# What intake logs when the database does not answer its dedup check, or a retry's look at
# the records, within the bound: it publishes anyway, as designed (consumers are idempotent
# on the id), so a copy kept or published by an earlier attempt may reach the bus as well.
# Seed 152317 showed it with no fault struck: the outbox drain after a broker outage kept
# FerretDB past 1 s for seconds on a slow machine.
UNCHECKED = re.compile(r"no (?:dedup|record of) (?:for )?([0-9a-f]{32})\b")


def unchecked(logs: list[str]) -> frozenset[str]:
    """The event ids the gateways' ``logs`` say were published without the dedup check."""
    return frozenset(match.group(1) for text in logs for match in UNCHECKED.finditer(text))
