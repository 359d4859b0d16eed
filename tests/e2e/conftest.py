"""Services started as processes over the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import ClientSession

from shared.wechat.simulator import Account
from tests.conftest import account_from, new_appid
from tests.support.gateway import onboard, wait_ready
from tests.support.processes import ServiceProcess, start_service

ADMIN_KEY = "e2e-admin-key"


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


@pytest.fixture
def services(infra: None, queue_prefix: str) -> Iterator[Callable[..., Awaitable[ServiceProcess]]]:
    started: list[ServiceProcess] = []

    async def start(name: str, **env: str) -> ServiceProcess:
        service = start_service(name, queue_prefix=queue_prefix, admin_key=ADMIN_KEY, **env)
        started.append(service)
        async with ClientSession() as probe:
            try:
                await wait_ready(probe, service.url)
            except AssertionError:
                service.terminate()
                raise AssertionError(f"{name} not ready; its log:\n{service.log()}") from None
        return service

    yield start
    for service in started:
        service.terminate()


@pytest.fixture
def onboarded(
    http: ClientSession, created_tenants: list[str]
) -> Callable[..., Awaitable[tuple[dict[str, Any], Account]]]:
    """Onboards an account through a gateway's API; answers the 201 body and the account."""

    async def make(
        gateway_url: str,
        *,
        name: str = "Test account",
        encrypt_mode: str = "safe",
        app_secret: str = "s",  # noqa: S107 - a test account
        account_type: str = "service",
    ) -> tuple[dict[str, Any], Account]:
        created = await onboard(
            http,
            gateway_url,
            ADMIN_KEY,
            name=name,
            appid=new_appid(),
            app_secret=app_secret,
            account_type=account_type,
            encrypt_mode=encrypt_mode,
        )
        created_tenants.append(created["id"])
        return created, account_from(created)

    return make


async def metric_total(http: ClientSession, services: list[ServiceProcess], sample: str) -> float:
    """One metric sample (``name`` or ``name{labels}``) summed over replicas: what each
    replica counted of work the replicas share."""
    total = 0.0
    for service in services:
        async with http.get(f"{service.url}/metrics") as response:
            text = await response.text()
        total += sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(sample + " ")
        )
    return total
