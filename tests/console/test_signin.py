"""Signing in to the console as a person does, in Chromium: a wrong key is refused and
nothing is kept; the session is an HttpOnly, SameSite=Strict cookie that the page's
scripts cannot read; every answer carries a strict CSP; a change without the session's
CSRF token is refused; signing out ends the session; a revoked key ends it too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.async_api import BrowserContext, Page

from tests.console.conftest import ADMIN_KEY, Stack
from tests.support.browser import screenshot, serious_violations, sign_in


async def test_a_wrong_key_is_refused_and_keeps_nothing(
    stack: Stack, page: Page, context: BrowserContext
) -> None:
    await sign_in(page, stack.base, "wxp_nothere_notakey")
    assert page.url.endswith("/console/signin")
    assert await page.get_by_role("alert").inner_text() == "密钥无效或已吊销。"
    assert "wxp_session" not in {c["name"] for c in await context.cookies()}
    await screenshot(page, "signin")
    assert await serious_violations(page) == []


async def test_the_session_cookie_is_out_of_the_pages_reach(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]], context: BrowserContext
) -> None:
    page = await signed_in(ADMIN_KEY)
    assert page.url.endswith("/console/overview")
    [cookie] = [c for c in await context.cookies() if c["name"] == "wxp_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert ADMIN_KEY not in cookie["value"]
    assert "wxp_session" not in await page.evaluate("document.cookie")
    stored = await page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert ADMIN_KEY not in stored

    response = await page.goto(f"{stack.base}/console/overview")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"


async def test_a_change_without_the_csrf_token_is_refused(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]], context: BrowserContext
) -> None:
    page = await signed_in(ADMIN_KEY)
    refused = await page.request.post(f"{stack.base}/console/signout", form={"csrf": "forged"})
    assert refused.status == 403
    assert "表单已过期" in await refused.text()
    assert "wxp_session" in {c["name"] for c in await context.cookies()}  # still signed in

    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url("**/console/signin")
    assert "wxp_session" not in {c["name"] for c in await context.cookies()}
    await page.goto(f"{stack.base}/console/overview")
    assert page.url.endswith("/console/signin")


async def test_english_on_request_and_a_revoked_key_signs_out(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    created, _ = await stack.onboard("Revoked key account")
    made = await stack.api(
        "POST", f"{stack.base}/api/tenants/{created['id']}/keys", json={"name": "soon revoked"}
    )
    page = await signed_in(made["key"])
    assert f"/console/tenants/{created['id']}/" in page.url
    await page.get_by_role("link", name="English").click()
    await page.get_by_role("button", name="Sign out").wait_for()
    assert await page.get_attribute("html", "lang") == "en"

    await stack.api("DELETE", f"{stack.base}/api/tenants/{created['id']}/keys/{made['id']}")
    await page.reload()
    assert "/console/signin" in page.url
    assert await page.get_by_role("alert").inner_text() == "Please sign in again."
