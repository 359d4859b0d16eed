"""Fixtures over the real RabbitMQ and FerretDB that `make test` starts.

Each test gets its own tenants and queue names; a session-wide queue prefix keeps
this run's service queues apart from a running `make run` stack, and is deleted at
the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from shared.contracts.envelope import Envelope
from shared.contracts.topology import service_queues
from shared.platform.storage import CONTROL_DB, Client, PyMongoError, mongo_client
from shared.wechat.simulator import Account
from tests.support.bus import Answer, Tap
from tests.support.infra import LOCAL, amqp_url, local_broker, mongodb_url, reachable, run_output


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
    await delete_queues(await leftover_test_queues())
    prefix = f"test{secrets.token_hex(3)}"
    yield prefix
    await delete_queues(
        [
            name
            for spec in service_queues(prefix).values()
            for name in (spec.name, spec.dead_letter_name)
        ]
    )


async def leftover_test_queues() -> list[str]:
    if not local_broker():
        return []
    listed = await run_output(str(LOCAL / "rabbitmq.sh"), "list-test-queues")
    return [name for name in listed.split() if LEFTOVER.match(name)]


async def delete_queues(names: list[str]) -> None:
    if not names:
        return
    connection = await aio_pika.connect(amqp_url())
    try:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)
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
    client = mongo_client(mongodb_url(), app_name="wxp-tests")
    yield client
    await client.close()


@pytest.fixture
async def tap_factory(amqp: AbstractConnection) -> AsyncIterator[Callable[..., Awaitable[Tap]]]:
    taps: list[Tap] = []

    async def open_tap(
        keys: list[str], *, answer: Answer | None = no_reply, delay: float = 0.0
    ) -> Tap:
        """A tap that, by default, answers passive-reply requests with "none" at once,
        as the replies service does when no rule matches; ``answer=None`` stays silent."""
        tap = await Tap.open(amqp, f"tap.{secrets.token_hex(4)}", keys, answer=answer, delay=delay)
        taps.append(tap)
        return tap

    yield open_tap
    for tap in taps:
        await tap.close()


@pytest.fixture(scope="session")
async def created_tenants(mongo: Client) -> AsyncIterator[list[str]]:
    ids: list[str] = []
    yield ids
    control = mongo[CONTROL_DB]
    with contextlib.suppress(PyMongoError):  # a test restarted FerretDB: the first call says so
        await control.command("ping")
    for collection in ("gateway_seen", "gateway_published", "gateway_outbox"):
        await control[collection].delete_many({"tenant_id": {"$in": ids}})
    await control.api_keys.delete_many({"tenant_id": {"$in": ids}})
    await control.tenants.delete_many({"_id": {"$in": ids}})


LEFTOVER = re.compile(r"^((test|bench)[0-9a-f]{6}|wxp)\.|^tap\.")  # in the test vhost only


def no_reply(_: Envelope) -> None:
    return None


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
