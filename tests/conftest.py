"""Fixtures over the real RabbitMQ and FerretDB that `make test` starts.

Each test gets its own tenants and queue names; a session-wide queue prefix keeps
this run's service queues apart from a running `make run` stack, and is deleted at
the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from shared.envelope import Envelope
from shared.storage import CONTROL_DB, Client, PyMongoError, mongo_client
from shared.topology import service_queues
from shared.wechat_sim import Account
from tests.support.bus import Answer, Tap
from tests.support.infra import amqp_url, mongodb_url, reachable


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
def queue_prefix() -> str:
    return f"test{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
async def session_queues(infra: None, queue_prefix: str) -> AsyncIterator[None]:
    """Deletes this run's service queues at the end (the services declare them)."""
    yield
    connection = await aio_pika.connect(amqp_url())
    try:
        channel = await connection.channel()
        for spec in service_queues(queue_prefix).values():
            await channel.queue_delete(spec.name)
            await channel.queue_delete(spec.dead_letter_name)
    finally:
        await connection.close()


@pytest.fixture
async def amqp(session_queues: None) -> AsyncIterator[AbstractConnection]:
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
