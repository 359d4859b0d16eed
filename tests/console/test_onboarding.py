"""The onboarding wizard in Chromium, as a person goes through it: the form, the webhook
URL, Token and EncodingAESKey shown once with copy buttons and WeChat's steps, then "test
the connection" switching to connected once `wxp simulate` plays WeChat against the
gateway. A bad field is named next to the form, keeps what was typed but the secret, and
creates nothing."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page

from services.gateway.console.onboarding import local_time
from tests.conftest import new_appid
from tests.console.conftest import ADMIN_KEY, Stack
from tests.support.browser import screenshot, serious_violations
from tests.support.bus import stays_true

SECRET = "wizard-app-secret"


async def wxp(*args: str, url: str) -> tuple[int, str, str]:
    """The `wxp` console script, as an operator runs it."""
    env = {**os.environ, "WXP_URL": url, "WXP_API_KEY": ADMIN_KEY}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("wxp")),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def tenants_named(stack: Stack, name: str) -> list[dict[str, Any]]:
    found, after = [], None
    while True:
        query = {"limit": "200", **({"after": after} if after else {})}
        listed = await stack.api("GET", f"{stack.base}/api/tenants", params=query)
        found += [t for t in listed["items"] if t["name"] == name]
        after = listed["next_after"]
        if after is None:
            return found


async def test_onboard_an_account_and_see_its_first_webhook_arrive(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]], context: BrowserContext
) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base)
    page = await signed_in(ADMIN_KEY)
    await page.get_by_role("link", name="接入公众号").click()
    await page.get_by_role("heading", name="接入公众号").wait_for()
    appid = new_appid()
    await page.get_by_label("名称", exact=True).fill("向导 咖啡")
    await page.get_by_label("AppID（开发者ID）").fill(appid)
    await page.get_by_label("AppSecret（开发者密码）").fill(SECRET)
    await page.get_by_label("服务号").check()
    await page.get_by_label("消息加解密方式").select_option("safe")
    assert await page.get_by_label("时区").input_value() == "Asia/Shanghai"
    await screenshot(page, "onboard-form")
    assert await serious_violations(page) == []

    await page.get_by_role("button", name="接入", exact=True).click()
    await page.get_by_role("heading", name="已接入：向导 咖啡").wait_for()
    shown = page.get_by_role("region", name="服务器配置")
    url, token, aes_key = await shown.locator("code").all_inner_texts()
    tenant_id = url.rsplit("/", 1)[1]
    stack.tenants.append(tenant_id)
    stored = await stack.api("GET", f"{stack.base}/api/tenants/{tenant_id}")
    assert (stored["webhook_url"], stored["appid"], stored["encrypt_mode"]) == (url, appid, "safe")
    assert stored["connected_at"] is None
    assert len(token) == 32
    assert len(aes_key) == 43
    assert SECRET not in await page.content()
    steps = await page.get_by_role("list").filter(has_text="mp.weixin.qq.com").inner_text()
    for words in ("设置与开发", "基本配置", "服务器配置", "安全模式（推荐）", "提交", "启用"):
        assert words in steps
    copy_token = shown.get_by_role("button", name="复制").nth(1)
    await copy_token.click()
    await page.get_by_role("button", name="已复制").wait_for()
    assert await page.evaluate("navigator.clipboard.readText()") == token
    waiting = page.get_by_role("status").filter(has_text="正在等待第一个通过验证的 webhook")
    await waiting.wait_for()
    await screenshot(page, "onboard-secrets")
    assert await serious_violations(page) == []

    code, out, err = await wxp(
        "simulate",
        "text",
        "--content",
        "你好",
        "--tenant",
        tenant_id,
        "--appid",
        appid,
        "--token",
        token,
        "--aes-key",
        aes_key,
        "--mode",
        "safe",
        url=stack.base,
    )
    assert code == 0, (out, err)
    assert "-> 200" in out

    connected = page.get_by_role("status").filter(has_text="已连接")
    await connected.wait_for(timeout=20_000)
    stored = await stack.api("GET", f"{stack.base}/api/tenants/{tenant_id}")
    assert stored["connected_at"] is not None
    assert local_time(stored["connected_at"], "Asia/Shanghai") in await connected.inner_text()
    await screenshot(page, "onboard-connected")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url))
    await stays_true(lambda: not polls, 4.5, what="no more polling once connected")

    for later in (f"/console/tenants/{tenant_id}/connect", "/console/onboard"):
        await page.goto(f"{stack.base}{later}")
        content = await page.content()
        assert token not in content
        assert aes_key not in content
    await page.goto(f"{stack.base}/console/tenants/{tenant_id}/connect")
    assert url in await page.get_by_role("region", name="服务器配置").inner_text()
    await page.get_by_role("status").filter(has_text="已连接").wait_for()


async def test_a_bad_appid_is_named_by_the_form_and_creates_nothing(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    page = await signed_in(ADMIN_KEY)
    await page.get_by_role("link", name="English").click()
    await page.get_by_role("heading", name="All accounts").wait_for()
    await page.get_by_role("link", name="Add an account").click()
    await page.get_by_role("heading", name="Add an account").wait_for()
    name = f"Bad appid {secrets.token_hex(3)}"
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("AppID", exact=True).fill("wx123")
    await page.get_by_label("AppSecret", exact=True).fill(SECRET)
    await page.get_by_label("Subscription account").check()
    await page.get_by_label("Message encryption").select_option("plain")
    await page.get_by_label("Timezone").fill("Europe/Berlin")
    await page.get_by_role("button", name="Add the account").click()

    alert = page.get_by_role("alert")
    assert "That AppID is not valid" in await alert.inner_text()
    assert await page.get_by_label("AppID", exact=True).input_value() == "wx123"
    assert await page.get_by_label("Name", exact=True).input_value() == name
    assert await page.get_by_label("Timezone").input_value() == "Europe/Berlin"
    assert await page.get_by_label("Message encryption").input_value() == "plain"
    assert await page.get_by_label("Subscription account").is_checked()
    assert await page.get_by_label("AppSecret", exact=True).input_value() == ""
    assert SECRET not in await page.content()
    assert await serious_violations(page) == []
    assert await tenants_named(stack, name) == []
