"""Fixtures over the real RabbitMQ and FerretDB that `make test` starts.

Each test gets its own tenants and queue names; a session-wide queue prefix keeps
this run's service queues apart from a running `make run` stack, and is deleted at
the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection
from aiohttp.test_utils import TestServer

from shared.contracts.envelope import Envelope
from shared.contracts.topology import service_queues
from shared.platform.storage import (
    CONTROL_DB,
    Client,
    PyMongoError,
    mongo_client,
    tenant_db_name,
)
from shared.wechat.simulator import Account
from tests.support.bus import Answer, Tap
from tests.support.fake_wechat import FakeWeChat
from tests.support.gateway import forget_tenants
from tests.support.infra import (
    LOCAL,
    ROOT,
    amqp_url,
    local_broker,
    local_database,
    mongodb_url,
    reachable,
    run_output,
)


@pytest.fixture(scope="session")
def infra() -> None:
    """Fails (never skips) the tests that need servers when they are not there."""
    servers = (("RabbitMQ", amqp_url(), 5672), ("MongoDB/FerretDB", mongodb_url(), 27017))
    missing = [name for name, url, port in servers if not reachable(url, port)]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not reachable: run the tests with `make test`")
    if not os.environ.get("WXP_MASTER_KEY"):
        pytest.fail("WXP_MASTER_KEY is not set: run the tests with `make test`")


@pytest.fixture(scope="session")
async def queue_prefix(infra: None) -> AsyncIterator[str]:
    """This run's prefix for the service queues; they are deleted at the end, and so are
    the queues that earlier runs left behind (killed runs, say) in the local test vhost."""
    prefix = f"test{secrets.token_hex(3)}"
    with session_lock(prefix):
        await delete_queues(await leftover_test_queues(prefix))
        yield prefix
    await delete_queues(
        [
            name
            for spec in service_queues(prefix).values()
            for name in (spec.name, spec.dead_letter_name, spec.retry_name)
        ]
    )


SESSIONS = ROOT / "var" / "test-sessions"


@contextlib.contextmanager
def session_lock(prefix: str) -> Iterator[None]:
    """Held for the whole run: another run (a second pytest at the same time) leaves this
    run's queues alone, and deletes them once this process is gone."""
    SESSIONS.mkdir(parents=True, exist_ok=True)
    path = SESSIONS / f"{prefix}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def session_alive(prefix: str) -> bool:
    path = SESSIONS / f"{prefix}.lock"
    try:
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    path.unlink(missing_ok=True)
    return False


async def leftover_test_queues(own: str) -> list[str]:
    """Queues of runs that are over (killed, say): their prefix has no live lock."""
    if not local_broker():
        return []
    listed = await run_output(str(LOCAL / "rabbitmq.sh"), "list-test-queues")
    names = listed.split()
    leftovers = []
    for name in names:
        match = LEFTOVER.match(name)
        if match and not session_alive(match["prefix"]):
            leftovers.append(name)
    if not another_run_alive(own):
        # No other run is alive, so every queue in the test vhost is a leftover: under the
        # default prefix (an app a test built without one), a stand-in's or a bench's, or
        # of a test since renamed. Those bound to every event grow without a reader (one
        # held 257,705 messages and slowed every confirm on the node).
        leftovers = [name for name in names if not name.startswith(f"{own}.")]
    return leftovers


async def drop_orphan_tenant_databases() -> None:
    """Earlier runs' tenant databases, whose tenants are gone: FerretDB keeps a SQLite file
    for each and opens them all when it starts (2,300 of them had grown to 560 MB and
    slowed the benches that share this FerretDB)."""
    mongo = mongo_client(mongodb_url(), app_name="wxp-tests-cleanup")
    try:
        tenants = await mongo[CONTROL_DB].tenants.find({}, {"_id": 1}).to_list()
        live = {tenant_db_name(str(doc["_id"])) for doc in tenants}
        for name in await mongo.list_database_names():
            if name.startswith(TENANT_DB_PREFIX) and name not in live:
                await mongo.drop_database(name)
    finally:
        await mongo.close()


def another_run_alive(own: str = "") -> bool:
    """Does a run other than ``own`` (every run, when none is named) hold its lock?"""
    return any(session_alive(prefix) for prefix in live_prefixes() if prefix != own)


def live_prefixes() -> list[str]:
    """The runs that have a lock file (held, or left by a run that died)."""
    return [path.stem for path in SESSIONS.glob("*.lock")]


async def delete_queues(names: list[str]) -> None:
    if not names:
        return
    connection = await aio_pika.connect(amqp_url())
    try:
        for name in names:
            # One channel each: a queue another process holds exclusively (a running bench's
            # tap) refuses the delete and closes the channel; the others still go.
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.ChannelClosed):
                await channel.queue_delete(name)
            if not channel.is_closed:
                await channel.close()
    finally:
        await connection.close()


@pytest.fixture
async def amqp(queue_prefix: str) -> AsyncIterator[AbstractConnection]:
    """A broker connection of the test's own: a test that restarts the broker harms no other."""
    connection = await aio_pika.connect(amqp_url())
    yield connection
    if not connection.is_closed:
        await connection.close()


@pytest.fixture(scope="session")
async def mongo(infra: None) -> AsyncIterator[Client]:
    """The tests' database client; first, when no other run is alive, the databases that
    earlier runs' tenants left are dropped."""
    if local_database() and not another_run_alive():
        await drop_orphan_tenant_databases()
    client = mongo_client(mongodb_url(), app_name="wxp-tests")
    yield client
    await client.close()


@pytest.fixture
async def tap_factory(
    amqp: AbstractConnection, queue_prefix: str
) -> AsyncIterator[Callable[..., Awaitable[Tap]]]:
    taps: list[Tap] = []

    async def open_tap(
        keys: list[str], *, answer: Answer | None = no_reply, delay: float = 0.0
    ) -> Tap:
        """A tap that, by default, answers passive-reply requests with "none" at once,
        as the replies service does when no rule matches; ``answer=None`` stays silent."""
        name = f"tap.{queue_prefix}.{secrets.token_hex(4)}"
        tap = await Tap.open(amqp, name, keys, answer=answer, delay=delay)
        taps.append(tap)
        return tap

    yield open_tap
    for tap in taps:
        await tap.close()


@pytest.fixture(scope="session")
async def created_tenants(mongo: Client) -> AsyncIterator[list[str]]:
    ids: list[str] = []
    yield ids
    with contextlib.suppress(PyMongoError):  # a test restarted FerretDB: the first call says so
        await mongo[CONTROL_DB].command("ping")
    await forget_tenants(mongo, ids)


TENANT_DB_PREFIX = tenant_db_name("x0")[:-2]  # "wxp_t_"
# In the test vhost only: a run's service queues and its taps carry the run's prefix.
LEFTOVER = re.compile(r"^(tap\.)?(?P<prefix>(test|bench)[0-9a-f]{6})\.")


def no_reply(_: Envelope[Any]) -> None:
    return None


@pytest.fixture(scope="module")
async def fake_server() -> AsyncIterator[tuple[FakeWeChat, str]]:
    """The fake WeChat API in this process (no access log: it would print the tokens),
    and its base URL, for a module's services to call."""
    fake = FakeWeChat(expires_in=7200, grace=0.0)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server(access_log=None)
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


def tenant_record(tenant_id: str, name: str, **fields: Any) -> dict[str, Any]:
    """A tenant document as the gateway's onboarding leaves it (without secrets), for tests
    of consumer services that need a tenant but not its webhook. Other tests list every
    tenant through the agency API, so it carries every public field."""
    return {
        "_id": tenant_id,
        "name": name,
        "appid": new_appid(),
        "account_type": "service",
        "encrypt_mode": "safe",
        "timezone": "Asia/Shanghai",
        "cluster": "default",
        "created_at": datetime.now(UTC),
        "version": 1,
        **fields,
    }


def new_appid() -> str:
    return "wx" + secrets.token_hex(8)


def account_from(created: dict[str, Any]) -> Account:
    return Account(
        tenant_id=created["id"],
        appid=created["appid"],
        token=created["token"],
        encoding_aes_key=created["encoding_aes_key"],
        encrypt_mode=created["encrypt_mode"],
    )
