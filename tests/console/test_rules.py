"""The rules page in Chromium, signed in with an account's own key: a rule added through the
form reaches the replies service and answers the dry run; disabled, it answers nothing;
rules reorder by keyboard and by drag, and the replies service keeps each order; a bad
regex is refused next to its field and nothing is made; a rule the form cannot hold is
shown as JSON; another account's rules are not found."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Page, expect

from tests.console.conftest import Stack
from tests.support.browser import screenshot, serious_violations


async def rules_of(stack: Stack, tenant_id: str) -> list[dict[str, Any]]:
    answer = await stack.api("GET", f"{stack.replies.url}/api/tenants/{tenant_id}/rules")
    items: list[dict[str, Any]] = answer["items"]
    return items


async def names_of(stack: Stack, tenant_id: str) -> list[str]:
    return [rule["name"] for rule in await rules_of(stack, tenant_id)]


async def listed(page: Page) -> list[str]:
    return await page.get_by_role("table").get_by_role("rowheader").all_inner_texts()


async def add_rule(page: Page, name: str, pattern: str, reply: str, trigger: str = "") -> None:
    await page.get_by_label("名称", exact=True).fill(name)
    if trigger:
        await page.get_by_label("触发条件").select_option(label=trigger)
    await page.get_by_label("关键词、正则表达式或菜单 KEY").fill(pattern)
    await page.get_by_label("回复文本").fill(reply)
    await page.get_by_role("button", name="添加规则").click()
    await expect(page.get_by_text("规则已添加。")).to_be_visible()


async def dry_run(page: Page, text: str) -> None:
    await page.get_by_label("消息内容或菜单 KEY").fill(text)
    await page.get_by_role("button", name="测试").click()


async def test_add_dry_run_disable_and_reorder_by_keyboard_and_by_drag(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    tenant = await stack.own_tenant("Rules account")
    tenant_id = tenant.id
    page = await signed_in(tenant.key)
    await page.goto(f"{stack.base}/console/tenants/{tenant_id}/rules")
    await expect(page.get_by_role("heading", level=1)).to_have_text("自动回复规则")
    await expect(page.get_by_text("还没有规则。")).to_be_visible()

    await add_rule(page, "Greeting", "hello", "Hi there, {openid}!")
    assert await listed(page) == ["Greeting"]
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Greeting"))
    await expect(row).to_contain_text("包含“hello”")
    await expect(row).to_contain_text("文本：Hi there, {openid}!")
    await expect(row).to_contain_text("已启用")
    [stored] = await rules_of(stack, tenant_id)
    assert stored["trigger"] == {"kind": "keyword", "match": "contains", "pattern": "hello"}
    assert stored["reply"] == {"type": "text", "content": "Hi there, {openid}!"}
    assert stored["enabled"] is True

    await dry_run(page, "hello there")
    await expect(page.get_by_text("回复的规则：Greeting（包含“hello”）")).to_be_visible()
    await expect(page.get_by_text("Hi there, o_dry_run!")).to_be_visible()
    assert page.url.endswith("/rules?done=created")  # answered in place

    await page.get_by_role("button", name="停用 Greeting").click()
    await expect(page.get_by_text("规则已停用。")).to_be_visible()
    await expect(row).to_contain_text("已停用")
    assert [rule["enabled"] for rule in await rules_of(stack, tenant_id)] == [False]
    await dry_run(page, "hello there")
    await expect(page.get_by_text("没有规则回复这条消息。")).to_be_visible()

    await add_rule(page, "Price", "price", "Ten yuan.", trigger="消息完全等于")
    assert await listed(page) == ["Greeting", "Price"]
    await screenshot(page, "rules")
    assert await serious_violations(page) == []

    # By keyboard: from the first row's last control, Tab reaches "move Price up"; Enter.
    await page.get_by_text("删除 Greeting", exact=True).focus()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="上移 Price")).to_be_focused()
    await page.keyboard.press("Enter")
    live = page.get_by_text("“Price”已移到第 1 位，共 2 条。")
    await expect(live).to_be_attached()
    assert await listed(page) == ["Price", "Greeting"]
    assert await names_of(stack, tenant_id) == ["Price", "Greeting"]
    await expect(page.get_by_role("button", name="下移 Price")).to_be_focused()

    # By drag: Price's handle dropped on Greeting's row takes Greeting's place.
    price = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Price"))
    await price.get_by_title("拖动排序").drag_to(row)
    await expect(page.get_by_text("“Price”已移到第 2 位，共 2 条。")).to_be_attached()
    assert await listed(page) == ["Greeting", "Price"]
    assert await names_of(stack, tenant_id) == ["Greeting", "Price"]
    await page.reload()
    assert await listed(page) == ["Greeting", "Price"]

    # Alt+ArrowUp in a row moves it; without script, a move button posts a form.
    await page.get_by_role("link", name="编辑 Price").focus()
    await page.keyboard.press("Alt+ArrowUp")
    await expect(page.get_by_text("“Price”已移到第 1 位，共 2 条。")).to_be_attached()
    assert await names_of(stack, tenant_id) == ["Price", "Greeting"]
    await expect(page.get_by_role("link", name="编辑 Price")).to_be_focused()
    token = json.loads(await page.get_attribute("body", "hx-headers") or "{}")["X-CSRF-Token"]
    price_id = (await rules_of(stack, tenant_id))[0]["id"]
    moved = await page.request.post(
        f"{stack.base}/console/tenants/{tenant_id}/rules/reorder",
        form={"csrf": token, "move": f"down:{price_id}"},
    )
    assert moved.ok
    assert "顺序已保存。" in await moved.text()
    assert await names_of(stack, tenant_id) == ["Greeting", "Price"]


async def test_a_bad_regex_is_refused_in_english_and_a_rule_is_edited_and_deleted(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    tenant = await stack.own_tenant("Rules in English")
    tenant_id = tenant.id
    page = await signed_in(tenant.key)
    await page.goto(f"{stack.base}/console/tenants/{tenant_id}/rules")
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Reply rules")

    await page.get_by_label("When").select_option(label="Reader follows")
    await page.get_by_label("Reply text").fill("Welcome aboard")
    await page.get_by_role("button", name="Add rule").click()
    await expect(page.get_by_text("Rule added.")).to_be_visible()
    assert await listed(page) == ["subscribe"]
    await expect(page.get_by_role("row").nth(1)).to_contain_text("reader follows")

    await page.get_by_label("Name", exact=True).fill("Bad regex")
    await page.get_by_label("When").select_option(label="Message matches the regex")
    await page.get_by_label("Keyword, regex or menu key").fill("(unclosed")
    await page.get_by_label("Reply text").fill("never")
    await page.get_by_role("button", name="Add rule").click()
    pattern = page.get_by_label("Keyword, regex or menu key")
    await expect(pattern).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text("Give a valid keyword, regex or menu key.").last).to_be_visible()
    await expect(pattern).to_have_value("(unclosed")
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Bad regex")
    await expect(page.get_by_label("Reply text")).to_have_value("never")
    assert await names_of(stack, tenant_id) == ["subscribe"]
    await screenshot(page, "rules-en")
    assert await serious_violations(page) == []

    await page.get_by_role("link", name="Edit subscribe").click()
    await page.get_by_label("Name", exact=True).fill("Welcome")
    await page.get_by_label("Reply text").fill("Welcome, {openid}")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Rule saved.")).to_be_visible()
    [stored] = await rules_of(stack, tenant_id)
    assert (stored["name"], stored["reply"]["content"]) == ("Welcome", "Welcome, {openid}")

    await page.get_by_text("Delete Welcome", exact=True).click()
    await page.get_by_role("button", name="Confirm delete Welcome").click()
    await expect(page.get_by_text("Rule deleted.")).to_be_visible()
    assert await rules_of(stack, tenant_id) == []


async def test_a_rule_the_form_cannot_hold_is_json_and_other_accounts_are_not_found(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    mine, _ = await stack.onboard("Rules owner")
    theirs, _ = await stack.onboard("Rules neighbour")
    several = {
        "name": "Images",
        "priority": 0,
        "enabled": True,
        "trigger": {"kind": "msgtype", "msgtype": "image"},
        "replies": [{"type": "text", "content": "Nice"}, {"type": "text", "content": "Wow"}],
    }
    url = f"{stack.replies.url}/api/tenants/{mine['id']}/rules"
    await stack.api("POST", url, json=several)
    page = await signed_in(await stack.tenant_key(mine["id"]))
    await page.goto(f"{stack.base}/console/tenants/{mine['id']}/rules")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Images"))
    await expect(row).to_contain_text("收到 image 消息")
    await expect(row).to_contain_text("随机回复 2 条之一")
    await page.get_by_role("link", name="查看 Images").click()
    shown = json.loads(await page.get_by_role("region", name="规则 JSON").inner_text())
    assert shown["replies"] == several["replies"]
    assert await page.get_by_role("button", name="保存").count() == 0

    answer = await page.goto(f"{stack.base}/console/tenants/{theirs['id']}/rules")
    assert answer is not None
    assert answer.status == 404
    await expect(page.get_by_role("alert")).to_have_text("找不到该页面或公众号。")
    await page.goto(f"{stack.base}/console/tenants/{mine['id']}/rules")
    token = json.loads(await page.get_attribute("body", "hx-headers") or "{}")["X-CSRF-Token"]
    refused = await page.request.post(
        f"{stack.base}/console/tenants/{theirs['id']}/rules",
        form={"csrf": token, "name": "x", "trigger": "contains", "pattern": "x", "reply": "x"},
    )
    assert refused.status == 404
    assert await rules_of(stack, theirs["id"]) == []
