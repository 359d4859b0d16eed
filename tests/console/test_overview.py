"""The agency overview in Chromium: every account in a row, worst health first, with its
status in words and links to its pages; the picker opens an account; a tenant key is sent
to its own account and gets the 404 page for the overview and the wizard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.async_api import Page

from tests.console.conftest import ADMIN_KEY, Stack
from tests.support.browser import screenshot, serious_violations, sign_in

WORST_FIRST = {"沉寂": 0, "下滑": 1, "暂无数据": 2, "活跃": 3}


async def test_the_agency_sees_every_account_worst_health_first(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    first, _ = await stack.onboard("总览 咖啡")
    second, _ = await stack.onboard("Overview Tea")
    page = await signed_in(ADMIN_KEY)
    assert page.url.endswith("/console/overview")
    await page.get_by_role("heading", name="全部公众号").wait_for()

    for tenant in (first, second):
        row = page.get_by_role("row").filter(has_text=tenant["id"])
        assert await row.count() == 1
        text = await row.inner_text()
        assert tenant["name"] in text
        assert "暂无数据" in text  # just onboarded: no readers yet
        pages = [await link.get_attribute("href") for link in await row.get_by_role("link").all()]
        base = f"/console/tenants/{tenant['id']}"
        named = ("charts", "charts", "rules", "broadcasts", "inbox")  # its name, then each page
        assert pages == [f"{base}/{name}" for name in named]
    statuses = [
        (await row.get_by_role("cell").first.inner_text()).strip()
        for row in await page.get_by_role("row").all()
        if await row.get_by_role("cell").count()
    ]
    assert statuses, "no account rows"
    ranks = [WORST_FIRST[status] for status in statuses]
    assert ranks == sorted(ranks)
    await screenshot(page, "overview")
    assert await serious_violations(page) == []

    row = page.get_by_role("row").filter(has_text=first["id"])
    await row.get_by_role("link", name="总览 咖啡", exact=True).click()
    await page.wait_for_url(f"**/console/tenants/{first['id']}/charts")

    await page.goto(f"{stack.base}/console/overview")
    await page.get_by_label("选择公众号").select_option(second["id"])
    await page.get_by_role("button", name="打开").click()
    await page.wait_for_url(f"**/console/tenants/{second['id']}/charts")

    await page.goto(f"{stack.base}/console/overview")
    await page.get_by_role("link", name="English").click()
    await page.get_by_role("heading", name="All accounts").wait_for()
    assert "Overview Tea" in await page.get_by_role("table").inner_text()


async def test_a_tenant_key_sees_its_own_account_and_not_the_overview(
    stack: Stack, page: Page
) -> None:
    tenant = await stack.own_tenant("Own account only")
    await sign_in(page, stack.base, tenant.key)
    assert page.url.endswith(f"/console/tenants/{tenant.id}/charts")
    for path in ("/console/overview", "/console/onboard"):
        response = await page.goto(f"{stack.base}{path}")
        assert response is not None
        assert response.status == 404
        assert "找不到该页面或公众号。" in await page.get_by_role("alert").inner_text()
        assert "Overview Tea" not in await page.content()
