"""The fault-injection run: a few thousand webhooks, with WeChat's retries, into two
gateways and two replies services over the real RabbitMQ and FerretDB, while the broker
stops, FerretDB is killed, a gateway and a replies process are killed (-9), and the
links to the servers get slow, black-holed or cut. Then, from the bus and the databases:
nothing lost, nothing doubled that no kill explains, every reply effect once.

Seeded (``WXP_FAULTS_SEED``, printed in the summary line with the size) so a failing run
replays; sized by ``WXP_FAULTS_RATE`` and ``WXP_FAULTS_STEP_SECONDS``. Run it alone with
``make faults`` (``pytest -m fault_injection``). It has a virtual host and a FerretDB of
its own, but it stops the shared broker: other test runs on this machine see that too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

import pytest
from aiohttp import ClientSession, TCPConnector

from tests.faults.conftest import SUMMARIES
from tests.faults.inject import Injector
from tests.faults.observe import cs_sends, sent_log, settle
from tests.faults.plan import Plan, Size, make_plan, seed_from_env
from tests.faults.report import diagnostics, write_report
from tests.faults.servers import own_servers
from tests.faults.stack import fault_stack
from tests.faults.tap import BusRecord
from tests.faults.verdict import Facts, judge
from tests.faults.wechat import WeChatServer
from tests.support.infra import local_broker, local_database

pytestmark = [
    pytest.mark.faults,
    pytest.mark.fault_injection,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not (local_broker() and local_database()),
        reason="stops the local broker and kills the local FerretDB; AMQP_URL or MONGODB_URL "
        "points elsewhere",
    ),
]
T = TypeVar("T")


async def test_nothing_lost_or_doubled_under_faults(infra, queue_prefix):
    plan = make_plan(seed_from_env(), Size.from_env())
    async with (
        own_servers(queue_prefix) as servers,
        ClientSession(connector=TCPConnector(limit=0)) as http,
        fault_stack(http, servers, queue_prefix) as stack,
    ):
        mongo = servers.mongo
        await stack.onboard(plan.tenants)
        await stack.warm_up()
        tenants = [a.tenant_id for a in stack.accounts.values()]
        keys = [f"{t}.#" for t in tenants]
        tap = BusRecord(servers.broker_url(), f"tap.{queue_prefix}.faults", keys)
        await tap.start()
        try:
            wechat = WeChatServer(
                http, stack.gateways, stack.accounts, seed=plan.seed, started=time.monotonic()
            )
            injector = Injector(stack, wechat)
            await asyncio.gather(traffic(wechat, plan), injector.run(plan.faults))
            injector.windows_excused()
            unsettled = await settle(tap, mongo, tenants, wechat.chains)
            facts = Facts(
                chains=wechat.chains,
                bus=dict(tap.copies),
                excuses=injector.excuses,
                sent_log=await sent_log(mongo, tenants),
                cs_sends=await cs_sends(stack),
                faults=injector.struck,
                seed=plan.seed,
                size=plan.size.describe(),
            )
        finally:
            await tap.stop()
        verdict = judge(facts)
        SUMMARIES.append(verdict.summary())
        state = await diagnostics(stack)
        report = write_report(plan, verdict, wechat.chains, injector, stack, tap, unsettled, state)
    assert not verdict.failures, (
        f"{verdict.summary()}\n"
        + "\n".join(verdict.failures)
        + f"\n{unsettled}\ndetails (attempts, faults, service logs): {report}"
    )


async def traffic(wechat: WeChatServer, plan: Plan) -> None:
    async def at(moment: float, delivery: Awaitable[T]) -> T:
        if (wait := moment - wechat.clock()) > 0:
            await asyncio.sleep(wait)  # the plan's pace
        return await delivery

    await asyncio.gather(*(at(hook.at, wechat.deliver(hook)) for hook in plan.webhooks))
