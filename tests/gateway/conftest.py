"""An in-process gateway (the real app) on a free port, over the real broker and database."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientSession

from services.gateway.app import create_app
from services.gateway.outbox import Collections
from services.gateway.settings import GatewaySettings
from shared.platform.storage import CONTROL_DB, Client
from shared.wechat.simulator import Account
from tests.conftest import account_from, new_appid
from tests.support.gateway import onboard, served
from tests.support.infra import common_settings

ADMIN_KEY = os.environ.get("WXP_ADMIN_KEY") or "test-admin-key"


@pytest.fixture(scope="session")
async def gateway(infra: None, queue_prefix: str) -> AsyncIterator[str]:
    settings = GatewaySettings(
        common=common_settings(admin_key=ADMIN_KEY, api_rate_per_second=1000.0, api_burst=1000.0),
        queue_prefix=queue_prefix,
        reply_deadline_seconds=1.0,
        max_body_bytes=16 * 1024,
        relay_interval_seconds=0.5,
    )
    async with served(create_app(settings)) as base:
        yield base


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


@pytest.fixture
async def new_account(
    gateway: str, http: ClientSession, created_tenants: list[str]
) -> Callable[..., Awaitable[Account]]:
    async def make(encrypt_mode: str = "safe", **fields: Any) -> Account:
        created = await onboard(
            http,
            gateway,
            ADMIN_KEY,
            name="Test account",
            appid=new_appid(),
            app_secret="secret",
            account_type="service",
            encrypt_mode=encrypt_mode,
            **fields,
        )
        created_tenants.append(created["id"])
        return account_from(created)

    return make


@pytest.fixture
async def outbox_collections(mongo: Client) -> AsyncIterator[Collections]:
    """An outbox and claims of the test's own, in the gateway's database, and a database of
    published notes of its own."""
    db, name = mongo[CONTROL_DB], f"test_outbox_{secrets.token_hex(4)}"
    collections = Collections(db[name], db[f"{name}_claims"], mongo[f"{name}_notes"])
    yield collections
    for each in (collections.outbox, collections.claims):
        await each.drop()
    await mongo.drop_database(collections.notes.name)
