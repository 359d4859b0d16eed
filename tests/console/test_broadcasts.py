"""The broadcasts page as a person uses it: a tenant key schedules a text to every
follower for tomorrow, sees it on tomorrow's square of the month calendar and in the
upcoming list (the scheduler has it, its quota slot reserved), sends a preview to one
reader (WeChat's preview call has it), cancels it from the page
(the scheduler has it cancelled), and a time in the past is refused on the page while
nothing is created."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Page

from tests.console.conftest import Stack
from tests.support.browser import screenshot, serious_violations

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the tenant's timezone (the platform's default)


async def test_schedule_see_on_the_calendar_cancel_and_a_refusal(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    tenant = await stack.own_tenant("Console broadcasts")
    created, tenant_id, key = tenant.created, tenant.id, tenant.key
    api = f"{stack.scheduler.url}/api/tenants/{tenant_id}"

    async def broadcasts() -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = (await stack.api("GET", f"{api}/broadcasts", key=key))[
            "broadcasts"
        ]
        return listed

    page = await signed_in(key)
    await page.goto(f"{stack.base}/console/tenants/{tenant_id}/broadcasts")
    assert await page.locator("#quota-left").inner_text() == "4"

    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    await page.get_by_label("名称").fill("周末上新")
    await page.get_by_label("消息内容").fill("明早十点上新")
    await page.get_by_label("发送时间").fill(f"{tomorrow:%Y-%m-%dT%H:%M}")
    await page.get_by_role("button", name="预约群发").click()
    await page.get_by_role("status").filter(has_text="已预约群发。").wait_for()

    day = page.locator(f"td:has(time[datetime='{tomorrow:%Y-%m-%d}'])")
    assert await day.locator("li").all_inner_texts() == ["10:00 周末上新 · 已预约"]
    assert await page.locator("td.cal-day li").count() == 1  # nowhere else
    upcoming = page.locator("section", has=page.get_by_role("heading", name="即将发送"))
    row = upcoming.locator("tr.run-row")
    assert await row.count() == 1
    assert f"{tomorrow:%Y-%m-%d} 10:00" in await row.inner_text()
    assert await page.locator("#quota-left").inner_text() == "3"
    [made] = await broadcasts()
    assert (made["name"], made["status"]) == ("周末上新", "scheduled")
    assert made["message"] == {"type": "text", "content": "明早十点上新"}
    assert datetime.fromisoformat(made["next_run_at"]) == tomorrow
    await screenshot(page, "broadcasts")
    assert await serious_violations(page) == []

    await upcoming.get_by_text("预览", exact=True).click()
    await upcoming.get_by_label("预览接收者 openid").fill("o_staff")
    await upcoming.get_by_role("button", name="发送预览").click()
    await page.get_by_role("status").filter(has_text="预览已发送。").wait_for()
    previews = await stack.fake.calls("/cgi-bin/message/mass/preview", created["appid"])
    assert [(c["body"]["touser"], c["body"]["text"]) for c in previews] == [
        ("o_staff", {"content": "明早十点上新"})
    ]

    await page.get_by_role("button", name="取消群发: 周末上新").click()
    await page.get_by_role("status").filter(has_text="已取消群发。").wait_for()
    assert await day.locator("li").all_inner_texts() == ["10:00 周末上新 · 已取消"]
    ended = page.locator("section", has=page.get_by_role("heading", name="已结束"))
    assert "已取消" in await ended.locator("tr.run-row").inner_text()
    assert await page.get_by_role("button", name="取消群发: 周末上新").count() == 0
    [gone] = await broadcasts()
    assert gone["status"] == "cancelled"

    yesterday = tomorrow - timedelta(days=2)
    await page.get_by_label("名称").fill("太迟了")
    await page.get_by_label("消息内容").fill("昨天的消息")
    await page.get_by_label("发送时间").fill(f"{yesterday:%Y-%m-%dT%H:%M}")
    await page.get_by_role("button", name="预约群发").click()
    alert = page.get_by_role("alert")
    assert "未能预约" in await alert.inner_text()
    assert "in the past" in await alert.inner_text()
    assert await page.get_by_label("名称").input_value() == "太迟了"  # kept for a fix
    assert await page.get_by_label("发送时间").get_attribute("aria-invalid") == "true"
    assert [b["name"] for b in await broadcasts()] == ["周末上新"]
    assert await serious_violations(page) == []


async def test_articles_to_a_tag_on_a_days_best_hour_and_a_refused_cron_kept_for_a_fix(
    stack: Stack, signed_in: Callable[[str], Awaitable[Page]]
) -> None:
    tenant = await stack.own_tenant("Console broadcast kinds")
    tenant_id, key = tenant.id, tenant.key
    api = f"{stack.scheduler.url}/api/tenants/{tenant_id}/broadcasts"
    page = await signed_in(key)
    await page.goto(f"{stack.base}/console/tenants/{tenant_id}/broadcasts")
    assert await page.get_by_label("消息内容").is_visible()  # a text, by default
    assert not await page.get_by_label("素材 media_id").is_visible()

    await page.get_by_label("名称").fill("周五图文")
    await page.get_by_label("消息类型").select_option(label="图文（永久素材）")
    assert not await page.get_by_label("消息内容").is_visible()
    await page.get_by_label("素材 media_id").fill("MEDIA_ARTICLES_1")
    await page.get_by_label("被判为转载时仍然群发").check()
    assert not await page.get_by_label("标签 ID").is_visible()
    await page.get_by_label("某个标签的粉丝").check()
    await page.get_by_label("标签 ID").fill("7")
    await page.get_by_label("当天推荐时段").check()
    assert not await page.get_by_label("发送时间").is_visible()
    day = datetime.now(SHANGHAI).date() + timedelta(days=2)
    await page.get_by_label("发送日期").fill(f"{day:%Y-%m-%d}")
    await screenshot(page, "broadcasts-articles")
    await page.get_by_role("button", name="预约群发").click()
    await page.get_by_role("status").filter(has_text="已预约群发。").wait_for()
    [made] = (await stack.api("GET", api, key=key))["broadcasts"]
    assert made["message"] == {
        "type": "mpnews",
        "media_id": "MEDIA_ARTICLES_1",
        "send_ignore_reprint": True,
    }
    assert made["audience"] == {"kind": "tag", "tag_id": 7}
    assert made["schedule"] == {"best_on": f"{day:%Y-%m-%d}"}
    at = datetime.fromisoformat(made["next_run_at"]).astimezone(SHANGHAI)
    assert (at.date(), at.hour) == (day, 20)  # no advice from analytics yet: 20:00
    assert await page.locator(f"td:has(time[datetime='{day:%Y-%m-%d}']) li").count() == 1

    await page.get_by_label("名称").fill("每周二")
    await page.get_by_label("消息类型").select_option(label="图片")
    await page.get_by_label("图片 media_id（每行一个）").fill("IMG_1\nIMG_2")
    await page.get_by_label("定期发送（cron）").check()
    await page.get_by_label("cron 表达式").fill("every tuesday")
    await page.get_by_role("button", name="预约群发").click()
    alert = page.get_by_role("alert")
    assert "5 fields" in await alert.inner_text()
    cron = page.get_by_label("cron 表达式")
    assert await cron.is_visible()  # the choices made are kept, and so is what was typed
    assert (await cron.input_value(), await cron.get_attribute("aria-invalid")) == (
        "every tuesday",
        "true",
    )
    assert await page.get_by_label("图片 media_id（每行一个）").input_value() == "IMG_1\nIMG_2"
    assert len((await stack.api("GET", api, key=key))["broadcasts"]) == 1
    assert await serious_violations(page) == []

    await cron.fill("0 9 * * 2")
    await page.get_by_role("button", name="预约群发").click()
    await page.get_by_role("status").filter(has_text="已预约群发。").wait_for()
    weekly = (await stack.api("GET", api, key=key))["broadcasts"][-1]
    assert (weekly["message"], weekly["schedule"]) == (
        {"type": "image", "media_ids": ["IMG_1", "IMG_2"]},
        {"cron": "0 9 * * 2"},
    )
    assert weekly["audience"] == {"kind": "all"}
