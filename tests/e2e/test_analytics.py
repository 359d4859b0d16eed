"""Analytics counts every envelope once: a known script of a tenant's events is published
three times over (as redeliveries and WeChat's retries would), the analytics process is
killed (-9) in the middle and replaced, and every figure is compared with values worked
out by hand from the definitions in the README."""

from __future__ import annotations

import asyncio
import secrets
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
from aio_pika.abc import AbstractConnection
from aiohttp import ClientSession

from services.analytics.store import AnalyticsStore, unpack_rows
from shared.contracts.broadcast_events import BroadcastSubmitted
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplySent
from shared.contracts.topology import EVENTS_EXCHANGE
from tests.conftest import tenant_record
from tests.e2e.conftest import ADMIN_KEY
from tests.support.bus import eventually, queue_depth
from tests.support.fake_wechat import FakeAdmin, running_fake

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ZONE = ZoneInfo("Asia/Shanghai")
FILLER_READERS = 500
FILLER_PER_READER = 10  # texts on day two, each answered by a rule


def at(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


class Script:
    """The tenant's events, each with a fixed id (so its copies are the same envelope)."""

    def __init__(self, tenant_id: str, day1: date, day2: date) -> None:
        self.tenant_id = tenant_id
        self.envelopes: list[Envelope[Any]] = []
        self._n = 0
        self.wechat(
            day1,
            "09:00",
            "o1",
            "event.subscribe",
            event="subscribe",
            event_key="qrscene_store-42",
            scene="store-42",
        )
        self.wechat(day1, "09:05", "o2", "event.subscribe", event="subscribe")
        m1 = self.wechat(day1, "10:00", "o1", "msg.text", content="价格?", msg_id="m1")
        self.wechat(day1, "10:01", "o1", "event.click", event="CLICK", event_key="MENU_A")
        self.wechat(day1, "11:00", "o2", "msg.image", msg_id="m2", pic_url="http://x")
        self.wechat(day1, "12:00", "o3", "event.unsubscribe", event="unsubscribe")
        self.wechat(day1, "12:30", "o2", "event.location", event="LOCATION", latitude="23.1")
        self.reply(day1, "10:00", "o1", m1, "passive")
        self.wechat(day2, "09:00", "o1", "event.view", event="VIEW", event_key="https://shop")
        self.wechat(day2, "09:10", "o4", "event.subscribe", event="subscribe")
        m3 = self.wechat(day2, "20:00", "o2", "msg.text", content="在吗", msg_id="m3")
        self.reply(day2, "20:01", "o2", m3, "customer_service")
        self.wechat(day2, "21:00", "o1", "msg.text", content="谢谢", msg_id="m4")
        for r in range(FILLER_READERS):
            for k in range(FILLER_PER_READER):
                openid = f"f{r:03d}"
                mid = self.wechat(
                    day2,
                    f"{8 + k}:{r % 60:02d}",
                    openid,
                    "msg.text",
                    content="hi",
                    msg_id=f"f{r}-{k}",
                )
                self.reply(day2, f"{8 + k}:{r % 60:02d}", openid, mid, "passive")
        self.wechat(day2, "22:00", "o1", "event.unsubscribe", event="unsubscribe")
        self.wechat(day2, "22:05", "o1", "event.subscribe", event="subscribe")  # resubscribed
        submitted = BroadcastSubmitted("b1", "r1", "all", msg_id="1000")
        self.add(day2, "19:00", "", submitted)

    def add(self, day: date, hhmm: str, openid: str, payload: Any) -> str:
        self._n += 1
        event_id = f"{self.tenant_id}-e{self._n}"
        stamp = iso(at(day, hhmm))
        kind = payload.TYPE
        self.envelopes.append(
            Envelope(event_id, self.tenant_id, kind, stamp, stamp, openid, payload)
        )
        return event_id

    def wechat(self, day: date, hhmm: str, openid: str, kind: str, **fields: str) -> str:
        self._n += 1
        event_id = f"{self.tenant_id}-e{self._n}"
        stamp = iso(at(day, hhmm))
        payload = WeChatMessage("gh_analytics", fields)
        self.envelopes.append(
            Envelope(event_id, self.tenant_id, kind, stamp, stamp, openid, payload)
        )
        return event_id

    def reply(self, day: date, hhmm: str, openid: str, answers: str, via: str) -> None:
        receipt = ReplySent(event_id=answers, rule_id="r1" if via == "passive" else "", via=via)
        self.add(day, hhmm, openid, receipt)


async def publish(connection: AbstractConnection, envelopes: list[Envelope[Any]]) -> None:
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    messages = [
        (
            aio_pika.Message(
                envelope.to_bytes(),
                message_id=envelope.id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                content_type="application/json",
            ),
            envelope.routing_key,
        )
        for envelope in envelopes
    ]
    for first in range(0, len(messages), 500):  # confirmed a window at a time
        window = messages[first : first + 500]
        await asyncio.gather(*(exchange.publish(m, key) for m, key in window))
    await channel.close()


async def get_json(http: ClientSession, url: str) -> Any:
    async with http.get(url, headers=ADMIN) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_every_envelope_counts_once_through_copies_and_a_kill(
    services, http, amqp, mongo, queue_prefix, created_tenants
):
    tenant_id = f"an-{secrets.token_hex(5)}"
    await mongo["wxp_control"].tenants.insert_one(tenant_record(tenant_id, "Analytics script"))
    created_tenants.append(tenant_id)
    today = datetime.now(UTC).astimezone(ZONE).date()
    day1, day2 = today - timedelta(days=2), today - timedelta(days=1)
    script = Script(tenant_id, day1, day2)
    analytics = await services("analytics", WXP_PREFETCH="64")
    queue = f"{queue_prefix}.analytics"

    await publish(amqp, script.envelopes)  # the first copy of each
    await publish(amqp, list(reversed(script.envelopes)))  # the second, in reverse order

    async def counting() -> bool:
        async with http.get(f"{analytics.url}/metrics") as response:
            text = await response.text()
        acked = f'wxp_consumer_messages_total{{outcome="ack",queue="{queue}"}} '
        return any(
            float(line[len(acked) :]) > 0 for line in text.splitlines() if line.startswith(acked)
        )

    await eventually(counting, 30, "analytics counting")
    analytics.kill()  # -9, mid-run: some inserted, some unacked
    assert await queue_depth(amqp, queue) > 0, "the kill came after the queue drained"
    await publish(amqp, script.envelopes)  # the third copy
    replacement = await services("analytics", WXP_PREFETCH="64")

    async def drained() -> bool:
        return await queue_depth(amqp, queue) == 0

    await eventually(drained, 60, "the analytics queue drained")
    events = mongo[f"wxp_t_{tenant_id}"].analytics_events
    store = AnalyticsStore(mongo)

    async def counted() -> list[str]:
        """The ids of the facts the raw log answers with, each once."""
        facts = await store.facts(tenant_id)
        return [fact.id for fact in facts]

    async def folded() -> bool:
        return sorted(await counted()) == sorted(e.id for e in script.envelopes)

    await eventually(folded, 30, "every fact folded into the tenant's raw log")
    base = f"{replacement.url}/api/tenants/{tenant_id}"
    daily = await get_json(http, f"{base}/stats/daily?from={day1}&to={day2}")
    one, two = daily["days"]
    assert one == {
        "date": day1.isoformat(),
        "new": 2,
        "lost": 1,
        "net": 1,
        "cumulative": None,
        "active_readers": 2,
        "messages": 2,
        "messages_by_type": {"text": 1, "image": 1},
        "menu_clicks": {"MENU_A": 1},
        "rule_replies": 1,
        "cs_replies": 0,
        "unanswered": 1,
    }
    filler = FILLER_READERS * FILLER_PER_READER
    assert two == {
        "date": day2.isoformat(),
        "new": 2,  # o4, and o1 again (resubscribes count)
        "lost": 1,
        "net": 1,
        "cumulative": None,
        "active_readers": 2 + FILLER_READERS,
        "messages": 2 + filler,
        "messages_by_type": {"text": 2 + filler},
        "menu_clicks": {},
        "rule_replies": filler,
        "cs_replies": 1,
        "unanswered": 1,
    }
    activity = await get_json(http, f"{base}/stats/activity")
    assert activity["followers_known"] == 3  # o1 (resubscribed), o2, o4; not o3
    assert (activity["active_7d"], activity["active_30d"]) == (
        2 + FILLER_READERS,
        2 + FILLER_READERS,
    )
    health = await get_json(http, f"{base}/health")
    assert health["status"] == "active"
    assert health["interactions_7d"] == 3 + 3 + filler  # day 1: m1, click, m2; day 2: view, m3, m4
    send_time = await get_json(http, f"{base}/send-time")
    assert send_time["basis"] == "interactions"
    assert send_time["sample"] == health["interactions_7d"]
    await asyncio.sleep(1.0)  # a second fold of any late copy would show now
    assert sorted(await counted()) == sorted(e.id for e in script.envelopes)
    stored = [  # each document, and the facts of each leaf as they decode
        f"{doc} {unpack_rows(doc['facts']) if 'facts' in doc else ''}"
        for doc in await events.find({}).to_list()
    ]
    assert stored
    assert not any("价格" in text or "谢谢" in text for text in stored)  # no content kept
    await mongo.drop_database(f"wxp_t_{tenant_id}")
    await mongo["wxp_control"].analytics_impacts_due.delete_many({"tenant_id": tenant_id})


async def test_the_api_answers_csv_refuses_bad_ranges_and_ranks_the_overview(
    services, http, amqp, mongo, created_tenants
):
    tenant_id = f"an-{secrets.token_hex(5)}"
    await mongo["wxp_control"].tenants.insert_one(tenant_record(tenant_id, "Analytics API"))
    created_tenants.append(tenant_id)
    analytics = await services("analytics")
    today = datetime.now(UTC).astimezone(ZONE).date()
    script = Script(tenant_id, today - timedelta(days=2), today - timedelta(days=1))
    await publish(amqp, script.envelopes[:14])  # the named readers, no filler

    base = f"{analytics.url}/api/tenants/{tenant_id}"

    async def counted() -> bool:
        activity = await get_json(http, f"{base}/stats/activity")
        return bool(activity["followers_known"] == 3)

    await eventually(counted, 30, "the script counted")
    async with http.get(f"{base}/stats/daily?format=csv", headers=ADMIN) as response:
        assert response.content_type == "text/csv"
        lines = (await response.text()).splitlines()
    assert lines[0].startswith("date,new,lost,net,cumulative,active_readers")
    assert len(lines) == 1 + 30  # the header and the last 30 days
    async with http.get(f"{base}/health", headers={**ADMIN, "Accept": "text/csv"}) as response:
        assert (await response.text()).splitlines()[1].startswith("active,")

    refusals = [
        ("from=2025-01-01&to=2026-06-01", "from"),
        (f"from={today}&to={today - timedelta(days=1)}", "from"),
        ("from=2026-02-30", "from"),
        ("format=xml", "format"),
    ]
    for query, field in refusals:
        async with http.get(f"{base}/stats/daily?{query}", headers=ADMIN) as response:
            body = await response.json()
            assert (response.status, body["error"]["field"]) == (422, field), (query, body)

    overview = await get_json(http, f"{analytics.url}/api/overview")
    rows = {row["id"]: row for row in overview["tenants"]}
    assert rows[tenant_id]["status"] == "active"
    assert rows[tenant_id]["followers_known"] == 3
    ranks = ["dormant", "declining", "no_data", "active"]
    order = [ranks.index(row["status"]) for row in overview["tenants"]]
    assert order == sorted(order)  # worst health first
    await mongo.drop_database(f"wxp_t_{tenant_id}")


async def test_backfill_sets_the_baseline_and_channel_codes_come_from_wechat(
    services, http, onboarded
):
    async with running_fake() as wechat:
        gateway = await services("gateway")
        analytics = await services("analytics", WECHAT_API_BASE=wechat)
        created, account = await onboarded(gateway.url, name="Backfill", app_secret="cube-secret")
        fake = FakeAdmin(http, wechat)
        await fake.register(account.appid, "cube-secret")
        base = f"{analytics.url}/api/tenants/{created['id']}"
        async with http.post(f"{base}/backfill", json={"days": 10}, headers=ADMIN) as response:
            window = await response.json()
            assert response.status == 200, window
        last = date.fromisoformat(window["to"])
        days = {
            (last - timedelta(days=n)).isoformat(): {
                "sources": {"0": [3, 1], "30": [5, 0]},
                "cumulate": 1000 - n,
            }
            for n in range(10)
        }
        await fake.set_datacube(account.appid, days)
        async with http.post(f"{base}/backfill", json={"days": 10}, headers=ADMIN) as response:
            filled = await response.json()
        assert filled["days"] == 10
        assert filled["baseline"] == {"day": last.isoformat(), "value": 1000}
        cube_calls = await fake.calls("/datacube/getusersummary", account.appid)
        assert len(cube_calls) == 4  # two backfills, 10 days in spans of 7 and 3
        activity = await get_json(http, f"{base}/stats/activity")
        assert activity["followers_known"] == 1000  # the baseline, nothing since

        async with http.post(f"{base}/qrcodes", json={"scene": "store-42"}, headers=ADMIN) as r:
            code = await r.json()
            assert r.status == 201, code
        shown = code["image_url"].split("?ticket=", 1)[1]
        assert urllib.parse.unquote(shown) == code["ticket"]
        listed = await get_json(http, f"{base}/qrcodes")
        assert [c["scene"] for c in listed["qrcodes"]] == ["store-42"]
        for bad in ({"scene": ""}, {"scene": "x" * 65}, {"scene": "s", "expire_seconds": 30}):
            async with http.post(f"{base}/qrcodes", json=bad, headers=ADMIN) as r:
                assert r.status == 422, bad
        assert len(await fake.qrcodes(account.appid)) == 1  # the refused ones never reached it
