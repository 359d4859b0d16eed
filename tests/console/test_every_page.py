"""Every page of the console, found in its routes (so a new page is covered without a
test of its own): a tenant key gets the 404 page for any other account's page, GET or
POST, and the account's own pages render in Chromium without a single Content Security
Policy violation (no inline script or style slipped into a template) or script error."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import hdrs
from playwright.async_api import ConsoleMessage, Page

from services.gateway.console.app import PAGES
from tests.console.conftest import Stack

ROUTES = [(route.method, route.path) for routes, _ in PAGES for route in routes]
TENANT_ROUTES = [(m, p) for m, p in ROUTES if "{tenant_id}" in p]
PAGE_ROUTES = [p for m, p in TENANT_ROUTES if m == hdrs.METH_GET and p.count("{") == 1]


def filled(path: str, tenant_id: str) -> str:
    path = path.replace("{tenant_id}", tenant_id)
    return "/console" + re.sub(r"\{[^}]+\}", "x0", path)


async def test_a_tenant_key_meets_404_on_every_page_of_another_account(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    mine, _ = await stack.onboard("Page owner")
    theirs, _ = await stack.onboard("Someone else 隔壁")
    page = await signed_in(await stack.tenant_key(mine["id"]))
    assert len(TENANT_ROUTES) >= 10, TENANT_ROUTES
    csrf = await page.evaluate(
        "JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']"
    )
    for method, path in TENANT_ROUTES:
        url = stack.base + filled(path, theirs["id"])
        answer = await page.request.fetch(
            url, method=method, form={"csrf": csrf} if method != "GET" else None
        )
        assert answer.status == 404, (method, path, answer.status)
        assert "隔壁" not in await answer.text()


async def test_every_page_of_an_account_renders_without_a_csp_violation(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    tenant = await stack.own_tenant("Every page")
    page = await signed_in(tenant.key)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    assert len(PAGE_ROUTES) >= 5, PAGE_ROUTES
    for path in PAGE_ROUTES:
        response = await page.goto(stack.base + filled(path, tenant.id))
        assert response is not None
        assert response.status == 200, (path, response.status)
        await page.wait_for_load_state("networkidle")
    assert problems == []
