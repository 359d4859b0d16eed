"""The scheduler's parts wired as its composition root wires them, in-process, with an
injected clock: the real FerretDB and RabbitMQ, and the fake WeChat API; and the real
scheduler app (``scheduler``) on the wall clock next to the in-process gateway, for the
tests that drive its API."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aio_pika.abc import AbstractConnection
from aiohttp import web
from prometheus_client import CollectorRegistry

from services.scheduler.app import create_app
from services.scheduler.broadcasts import Broadcasts
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.planning import Account
from services.scheduler.runner import RunWorker
from services.scheduler.runs import Run
from services.scheduler.settings import SchedulerSettings
from services.scheduler.spec import SpecLimits
from services.scheduler.store import BroadcastStore
from services.scheduler.wechat_calls import MassCalls
from shared.platform.publisher import EventPublisher
from shared.platform.secretbox import SecretBox
from shared.platform.settings import ConsumerSettings
from shared.platform.storage import CONTROL_DB, Client, tenant_db_name
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.runtime import WeChatRuntime
from tests.conftest import new_appid, tenant_record
from tests.gateway.conftest import ADMIN_KEY, gateway, http, new_account  # noqa: F401
from tests.support.bus import Tap
from tests.support.fake_wechat import Account as FakeAccount
from tests.support.fake_wechat import FakeWeChat
from tests.support.gateway import served
from tests.support.infra import common_settings

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Harness:
    account: Account
    store: BroadcastStore
    broadcasts: Broadcasts
    worker: RunWorker
    fake: FakeWeChat
    clock: Clock
    registry: CollectorRegistry
    tap: Tap
    planned: list[tuple[str, datetime]] = field(default_factory=list)

    async def create(self, **body: Any) -> dict[str, Any]:
        return await self.broadcasts.create(self.account, body)

    async def run_of(self, broadcast_id: str) -> Run:
        runs = await self.store.runs_of(self.account.tenant_id, broadcast_id)
        assert runs, f"no run of {broadcast_id}"
        return runs[-1]

    async def runs_of(self, broadcast_id: str) -> list[Run]:
        return await self.store.runs_of(self.account.tenant_id, broadcast_id)

    async def due_keys(self) -> dict[str, datetime]:
        found = await self.store.due(self.clock.now + timedelta(days=400))
        return {
            d["_id"]: d["due_at"]
            for d in found
            if d["_id"].startswith(self.account.tenant_id + "/")
        }

    async def fire_due(self) -> int:
        """Looks at every run of this tenant due by the clock; how many it looked at."""
        due = [k for k, at in (await self.due_keys()).items() if at <= self.clock.now]
        for key in due:
            await self.worker.look_at(key)
        return len(due)

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


async def forget_runs(mongo: Client, tenant_id: str) -> None:
    """Removes a tenant's entries from the scheduler's collections in the control database
    (the due index, claims, fates, msg_ids, parked reports), all keyed ``{tenant}/...``."""
    control = mongo[CONTROL_DB]
    for name in (
        "scheduler_due",
        "scheduler_claims",
        "scheduler_fates",
        "scheduler_msg_ids",
        "scheduler_parked_reports",
    ):
        await control[name].delete_many({"_id": {"$regex": f"^{tenant_id}/"}})


@pytest.fixture
async def make_sched(
    fake_server: tuple[FakeWeChat, str],
    mongo: Client,
    amqp: AbstractConnection,
    tap_factory: Callable[..., Awaitable[Tap]],
) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """Builds a harness for a fresh tenant: ``account_type``, and the fake account's
    options (``finish_event``, ``finish_status``, ...)."""
    fake, base = fake_server
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(account_type: str = "service", **fake_options: Any) -> Harness:
        clock = Clock()
        fake.wall = lambda: clock.now.timestamp()
        tenant_id = f"sch-{secrets.token_hex(5)}"
        tap = await tap_factory([f"{tenant_id}.broadcast.*"], answer=None)  # analytics' place
        appid, secret = new_appid(), "sched-secret"
        fake.register(FakeAccount(appid, secret, account_type=account_type, **fake_options))
        tenants = mongo[CONTROL_DB].tenants
        tenant = tenant_record(
            tenant_id, "Scheduler harness", appid=appid, account_type=account_type
        )
        await tenants.insert_one(tenant)

        async def secret_for(_: str) -> str:
            return secret

        registry = CollectorRegistry()
        wechat = WeChatRuntime(
            mongo=mongo,
            box=SecretBox.from_setting(os.environ["WXP_MASTER_KEY"]),
            base_url=base,
            secret_for=secret_for,
            metrics=WeChatMetrics.create(registry),
        )
        context = wechat.context(web.Application())
        await anext(context)
        publisher = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
        await publisher.setup(amqp)
        store = BroadcastStore(mongo)
        planned: list[tuple[str, datetime]] = []
        worker = RunWorker(
            store=store,
            wechat=MassCalls(wechat),
            events=publisher,
            metrics=SchedulerMetrics.create(registry),
            owner="test-replica",
            claim_seconds=60,
            check_after=timedelta(hours=1),
            now=clock,
        )
        broadcasts = Broadcasts(
            store=store,
            limits=SpecLimits(),
            max_per_week=3,
            planned=lambda key, at: planned.append((key, at)),
            now=clock,
        )
        account = Account(tenant_id, appid, account_type, "Asia/Shanghai")

        async def cleanup() -> None:
            await publisher.close()
            with contextlib.suppress(StopAsyncIteration):
                await anext(context)
            await mongo.drop_database(tenant_db_name(tenant_id))
            await tenants.delete_one({"_id": tenant_id})
            await forget_runs(mongo, tenant_id)

        cleanups.append(cleanup)
        return Harness(account, store, broadcasts, worker, fake, clock, registry, tap, planned)

    yield make
    for cleanup in cleanups:
        await cleanup()


@pytest.fixture
async def sched(make_sched: Callable[..., Awaitable[Harness]]) -> Harness:
    return await make_sched()


@pytest.fixture(scope="module")
async def scheduler(
    infra: None, queue_prefix: str, fake_server: tuple[FakeWeChat, str]
) -> AsyncIterator[str]:
    """The real scheduler app on the wall clock, calling the in-process fake WeChat; its
    timer looks at the due index every second, as a quick deployment's would."""
    _, wechat_base = fake_server
    common = common_settings(
        admin_key=ADMIN_KEY,
        api_rate_per_second=1000.0,
        api_burst=1000.0,
        wechat_api_base=wechat_base,
    )
    settings = SchedulerSettings(
        consumer=ConsumerSettings(common=common, queue_prefix=queue_prefix),
        scan_seconds=1.0,
        horizon_seconds=5.0,
    )
    async with served(create_app(settings)) as base:
        yield base
