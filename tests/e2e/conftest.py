"""Services started as processes over the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import ClientSession

from tests.support.gateway import wait_ready
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
