"""The charts page as an account's operator sees it, in Chromium, over figures analytics
computed from real traffic: readers who followed through QR channels, wrote and clicked,
and unfollowed (signed webhooks through the gateway, with WeChat's CreateTime in the past
days, placed back from the start of today), and a broadcast submitted 26 hours before that
(a ``broadcast.submitted`` on the bus, as the scheduler publishes it, so its 24 hours are
over)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aio_pika
from aio_pika.abc import AbstractConnection
from playwright.async_api import Page

from shared.contracts.broadcast_events import BroadcastSubmitted
from shared.contracts.envelope import Envelope, iso
from shared.contracts.topology import EVENTS_EXCHANGE
from shared.wechat.simulator import Account
from tests.console.conftest import Stack
from tests.support.browser import screenshot, serious_violations
from tests.support.bus import eventually
from tests.support.gateway import send

HOUR, DAY = 3600, 86400
ZONE = ZoneInfo("Asia/Shanghai")  # the tenants' default timezone
GREEN, RED = (7, 128, 63), (180, 35, 24)  # "new" and "lost" in static/charts.js
# (seconds ago, sample, openid, overrides)
TRAFFIC: list[tuple[int, str, str, dict[str, str]]] = [
    (9 * DAY, "event:subscribe_qrscene", "c_a1", {"EventKey": "qrscene_store-42"}),
    (9 * DAY - HOUR, "event:subscribe_qrscene", "c_a2", {"EventKey": "qrscene_store-42"}),
    (5 * DAY, "event:subscribe_qrscene", "c_a3", {"EventKey": "qrscene_poster"}),
    (5 * DAY - HOUR, "event:subscribe", "c_a4", {}),
    (4 * DAY, "event:unsubscribe", "c_a4", {}),  # in the broadcast's baseline
    (25 * HOUR, "event:unsubscribe", "c_a3", {}),  # in the broadcast's 24 hours
    *((n * DAY + n * HOUR, "text", "c_a1", {"Content": "你好"}) for n in range(1, 6)),
    (3 * HOUR, "text", "c_a1", {"Content": "在吗"}),
    (2 * HOUR, "event:CLICK", "c_a2", {"EventKey": "MENU_NEWS"}),
    (DAY + 2 * HOUR, "event:CLICK", "c_a2", {"EventKey": "MENU_NEWS"}),
]
BROADCAST_AGO = 26 * HOUR
COUNT_PIXELS = """([selector, rgb]) => {
  const canvas = document.querySelector(selector + " canvas");
  const {data} = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const near = (i) => [0, 1, 2].every((k) => Math.abs(data[i + k] - rgb[k]) < 12);
  let n = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 200 && near(i)) n++;
  return n;
}"""


def start_of_today() -> int:
    """Midnight in the tenants' zone, which the traffic is placed back from: each event
    then falls on the same day and hour (of the charts and the heat map) whatever the time
    the test runs. Placed back from the clock, a follow an hour before one near midnight
    fell on another day, and the followers chart drew other lines (CI, 23:57 local)."""
    today = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp())


async def produce(stack: Stack, account: Account, amqp: AbstractConnection) -> None:
    now = start_of_today()
    for ago, sample, openid, overrides in TRAFFIC:
        answer = await send(
            stack.http,
            stack.base,
            account,
            sample,
            openid=openid,
            create_time=now - ago,
            overrides=overrides,
        )
        assert answer.status == 200, answer.body
    stamp = iso(datetime.fromtimestamp(now - BROADCAST_AGO, UTC))
    submitted = BroadcastSubmitted("b-charts", "r1", "all", msg_id="1000")
    envelope = Envelope(
        f"{account.tenant_id}-b1", account.tenant_id, submitted.TYPE, stamp, stamp, "", submitted
    )
    channel = await amqp.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    message = aio_pika.Message(
        envelope.to_bytes(),
        message_id=envelope.id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        content_type="application/json",
    )
    await exchange.publish(message, envelope.routing_key)
    await channel.close()


async def counted(stack: Stack, tenant_id: str) -> None:
    """Waits (bounded) until analytics shows the traffic, then has it measure the broadcast
    again from the raw log (its 24 hours are over; the regular round may have measured it
    before the unfollow reached the raw log)."""
    api = f"{stack.analytics.url}/api/tenants/{tenant_id}"
    since = (datetime.now(UTC).astimezone(ZONE) - timedelta(days=10)).date().isoformat()

    async def daily() -> bool:
        days = (await stack.api("GET", f"{api}/stats/daily"))["days"]
        return (sum(d["new"] for d in days), sum(d["lost"] for d in days)) == (4, 2)

    async def measured() -> bool:
        await stack.api("POST", f"{api}/rebuild", json={"from": since})
        rows = (await stack.api("GET", f"{api}/stats/broadcasts"))["broadcasts"]
        return [(r["broadcast_id"], r["unfollows_24h"]) for r in rows] == [("b-charts", 1)]

    # Looks at the default pace (two API calls each for the second, a rebuild and a read)
    # would outrun the key's 20 a second (a 429) while the facts wait for the next fold.
    await eventually(daily, 60, "the follows counted", step=0.25)
    await eventually(measured, 60, "the broadcast's unfollows measured", step=0.5)


async def coloured(page: Page, chart: str, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the chart's canvas are (about) ``rgb``."""
    return int(await page.evaluate(COUNT_PIXELS, [f"#chart-{chart}", list(rgb)]))


async def points(page: Page, chart: str) -> int:
    drawn = page.locator(f"#chart-{chart}[data-points]")
    await drawn.wait_for(state="attached")
    return int(await drawn.get_attribute("data-points") or 0)


async def test_every_chart_draws_what_analytics_counted(
    stack: Stack,
    amqp: AbstractConnection,
    signed_in: Callable[[str], Awaitable[Page]],
) -> None:
    tenant = await stack.own_tenant("Charts account")
    tenant_id, account = tenant.id, tenant.account
    page = await signed_in(tenant.key)
    assert page.url.endswith(f"/console/tenants/{tenant_id}/charts")
    assert await page.locator("#health .badge").inner_text() == "暂无数据"  # no_data
    assert await page.locator("section.card .empty").count() == 5  # every chart, nothing yet
    assert await page.locator("canvas").count() == 0
    assert await serious_violations(page) == []

    await produce(stack, account, amqp)
    await counted(stack, tenant_id)
    await page.reload()
    assert await page.get_by_role("heading", level=1).inner_text() == "数据"
    assert await page.locator("#health .badge").inner_text() == "活跃"

    # followers: 4 new on 2 to 4 days, 2 lost on 2 days; drawn in their colours
    assert await points(page, "followers") >= 4
    assert "合计新增 4，流失 2，净增 2。" in await page.locator("#followers").inner_text()
    assert await coloured(page, "followers", GREEN) > 50
    assert await coloured(page, "followers", RED) > 50
    # active: a1 and a2 interacted; of the 2 known followers, both in 7 and 30 days
    assert await points(page, "active") >= 5
    figures = await page.locator("#active dd").all_inner_texts()
    assert figures == ["100.0%", "100.0%", "2"]
    # channels: the QR scenes, each a row and bars
    rows = await page.locator("#channels .table-wrap tbody tr").all_inner_texts()
    cells = [row.split("\t") for row in rows]
    assert cells == [
        ["other", "1", "1", "—", "—"],  # nobody follows from it any more
        ["poster", "1", "1", "—", "—"],
        ["store-42", "2", "0", "100.0%", "100.0%"],
    ]
    assert await points(page, "channels") == 5
    assert await coloured(page, "channels", GREEN) > 200
    # the broadcast: 1 unfollow in its 24 hours against 1 in its 14 days before
    assert await points(page, "broadcasts") == 2
    impact = await page.locator("#broadcasts details tbody td").all_text_contents()
    assert impact == ["1", "0.07", "14.00"]  # unfollows, baseline (1/14), lift
    assert await coloured(page, "broadcasts", RED) > 200
    # the heat map: 8 interactions in 8 distinct cells, the default hour (20) picked
    heat = page.locator("#sendtime table.heat tbody td")
    assert await heat.count() == 7 * 24
    counts = [int(c) for c in await heat.all_inner_texts()]
    assert sum(counts) == 8
    assert sum(1 for c in counts if c) == 8  # each in a cell of its own
    assert await page.locator("#sendtime td.heat-9").count() >= 1
    assert await page.locator("#sendtime td.heat-best").count() == 7  # the 20:00 column
    sendtime = await page.locator("#sendtime").inner_text()
    assert "推荐发送时间：20:00" in sendtime
    assert "互动不足 50 次（8 次），采用默认时间。" in sendtime
    await screenshot(page, "charts")
    assert await serious_violations(page) == []

    await page.get_by_role("link", name="最近 7 天").click()
    await page.wait_for_url("**/charts?days=7")
    assert await page.locator("#followers details tbody tr").count() == 7
    assert await points(page, "followers") >= 3  # a3 and a4 came and went this week
    assert await page.locator('.charts-range a[aria-current="page"]').inner_text() == "最近 7 天"

    await page.get_by_role("link", name="English").click()
    await page.get_by_role("heading", name="Followers gained and lost").wait_for()
    assert await page.locator("#health .badge").inner_text() == "Active"
    assert await points(page, "followers") >= 3
    assert "Recommended send time: 20:00" in await page.locator("#sendtime").inner_text()
    await screenshot(page, "charts-en")
    assert await serious_violations(page) == []
