"""The console against the whole stack: the four services as processes over the real
broker and database, the fake WeChat API, and Debian's Chromium. Started once for the
package (a stack takes seconds; each test gets its own browser context, so its own
cookies) and stopped before other packages start theirs on the same queues."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from shared.wechat.simulator import Account
from tests.conftest import account_from, new_appid
from tests.support.browser import chromium_path, sign_in
from tests.support.fake_wechat import FakeAdmin, running_fake
from tests.support.gateway import onboard, wait_ready
from tests.support.processes import ServiceProcess, start_service

ADMIN_KEY = "console-admin-key"
SERVICES = ("replies", "scheduler", "analytics")


@dataclass
class Stack:
    http: ClientSession
    gateway: ServiceProcess
    replies: ServiceProcess
    scheduler: ServiceProcess
    analytics: ServiceProcess
    wechat: str  # the fake WeChat API's base URL
    fake: FakeAdmin
    tenants: list[str]

    @property
    def base(self) -> str:
        return self.gateway.url

    async def api(self, method: str, url: str, key: str = ADMIN_KEY, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {key}"}
        async with self.http.request(method, url, headers=headers, **kwargs) as response:
            body = await response.json(content_type=None) if response.status != 204 else None
            assert response.status < 400, (response.status, body)
            return body

    async def onboard(self, name: str, **fields: Any) -> tuple[dict[str, Any], Account]:
        """A tenant made through the agency API (the wizard has a test of its own), its
        account registered with the fake WeChat API."""
        secret = fields.pop("app_secret", "console-secret")
        created = await onboard(
            self.http,
            self.base,
            ADMIN_KEY,
            name=name,
            appid=new_appid(),
            app_secret=secret,
            account_type=fields.pop("account_type", "service"),
            encrypt_mode=fields.pop("encrypt_mode", "safe"),
            **fields,
        )
        self.tenants.append(created["id"])
        await self.fake.register(created["appid"], secret)
        return created, account_from(created)

    async def tenant_key(self, tenant_id: str) -> str:
        made = await self.api(
            "POST", f"{self.base}/api/tenants/{tenant_id}/keys", json={"name": "console test"}
        )
        return str(made["key"])

    async def own_tenant(self, name: str) -> Onboarded:
        """A tenant onboarded, with a key of its own to sign in with."""
        created, account = await self.onboard(name)
        return Onboarded(created, account, await self.tenant_key(created["id"]))


@dataclass(frozen=True)
class Onboarded:
    created: dict[str, Any]  # what the agency API answered
    account: Account  # to send its webhooks
    key: str  # the tenant's own API key

    @property
    def id(self) -> str:
        return str(self.created["id"])


@pytest.fixture(scope="package")
async def stack(queue_prefix: str, created_tenants: list[str]) -> AsyncIterator[Stack]:
    async with running_fake() as wechat, ClientSession() as http:
        started: list[ServiceProcess] = []
        try:
            urls: dict[str, str] = {}
            for name in SERVICES:
                service = start_service(
                    name, queue_prefix=queue_prefix, admin_key=ADMIN_KEY, WECHAT_API_BASE=wechat
                )
                started.append(service)
                urls[f"WXP_{name.upper()}_URL"] = service.url
            gateway = start_service(
                "gateway", queue_prefix=queue_prefix, admin_key=ADMIN_KEY, **urls
            )
            started.append(gateway)
            for service in started:
                try:
                    await wait_ready(http, service.url)
                except AssertionError:
                    raise AssertionError(f"{service.name} not ready:\n{service.log()}") from None
            replies, scheduler, analytics = started[:3]
            yield Stack(
                http=http,
                gateway=gateway,
                replies=replies,
                scheduler=scheduler,
                analytics=analytics,
                wechat=wechat,
                fake=FakeAdmin(http, wechat),
                tenants=created_tenants,
            )
        finally:
            for service in started:
                service.terminate()


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    made.set_default_timeout(15_000)
    yield made
    await made.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture
def signed_in(stack: Stack, page: Page) -> Callable[[str], Awaitable[Page]]:
    """``await signed_in(key)``: the page, signed in to the console with ``key``."""

    async def go(key: str = ADMIN_KEY) -> Page:
        await sign_in(page, stack.base, key)
        return page

    return go
