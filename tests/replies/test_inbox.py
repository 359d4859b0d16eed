"""The reader inbox over the real broker and database: a reader's message no rule answers
comes through the in-process gateway and the bus into ``replies_inbox``; a person answers
it through the replies service's API, and the (in-process, fake) WeChat gets exactly one
customer-service message however the requests race; refusals change nothing.

The replies service here is the real app, wired to the fake WeChat, with a quota of two
messages per reader (``QUOTA``) so that running out of it is quick to show.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession
from prometheus_client import CollectorRegistry

from services.replies.app import create_app
from services.replies.claims import Claim
from services.replies.customer_service import QuotaPolicy
from services.replies.inbox_replies import claim_key
from services.replies.inbox_store import InboxStore
from services.replies.metrics import ReplyMetrics
from services.replies.retention import Retention, every_tenant
from services.replies.sent import SentStore
from services.replies.settings import RepliesSettings
from shared.platform.settings import ConsumerSettings
from shared.platform.storage import Client
from shared.wechat.simulator import Account
from tests.conftest import tenant_record
from tests.gateway.conftest import ADMIN_KEY
from tests.support.bus import eventually, stays_true
from tests.support.fake_wechat import Account as FakeAccount
from tests.support.fake_wechat import FakeWeChat, Fault
from tests.support.fakes import message
from tests.support.gateway import send, served
from tests.support.infra import common_settings

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CS_SEND = "/cgi-bin/message/custom/send"
QUOTA = 2  # customer-service messages per reader within the window, in this module
SETTLE = 2.0  # seconds a second send would need to show


@pytest.fixture(scope="module")
async def inbox_replies(
    infra: None, queue_prefix: str, fake_server: tuple[FakeWeChat, str]
) -> AsyncIterator[str]:
    """The replies service (answering the session's gateway) calling the fake WeChat."""
    _, wechat = fake_server
    common = common_settings(
        admin_key=ADMIN_KEY, api_rate_per_second=1000.0, api_burst=1000.0, wechat_api_base=wechat
    )
    settings = RepliesSettings(
        consumer=ConsumerSettings(common=common, queue_prefix=queue_prefix),
        quota=QuotaPolicy(message_limit=QUOTA),
    )
    async with served(create_app(settings)) as base:
        yield base


@dataclass
class Desk:
    """One tenant's inbox as its operator sees it: the replies API, its key, the fake."""

    http: ClientSession
    gateway: str
    replies: str
    account: Account
    fake: FakeWeChat
    key: dict[str, str]  # the tenant key's Authorization header
    key_id: str

    @property
    def inbox(self) -> str:
        return f"{self.replies}/api/tenants/{self.account.tenant_id}/inbox"

    async def call(
        self, method: str, path: str = "", body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        url = self.inbox + path
        async with self.http.request(method, url, json=body, headers=headers or self.key) as r:
            return r.status, await r.json()

    async def message(self, openid: str, content: str, *, create_time: int | None = None) -> str:
        """A reader's text through the gateway; the id of its inbox item once it is there."""
        answer = await send(
            self.http,
            self.gateway,
            self.account,
            "text",
            openid=openid,
            create_time=create_time,
            overrides={"Content": content},
        )
        assert answer.status == 200, answer.body
        found: list[dict[str, Any]] = []

        async def arrived() -> bool:
            _, page = await self.call("GET", "?status=all")
            found[:] = [i for i in page["items"] if i["message"].get("content") == content]
            return bool(found)

        await eventually(arrived, 15, f"{content!r} in the inbox")
        return str(found[0]["id"])

    def sent_to(self, openid: str) -> list[Any]:
        calls = self.fake.calls(CS_SEND, self.account.appid)
        return [c.body for c in calls if c.body.get("touser") == openid]


@pytest.fixture
async def desk(
    gateway: str,
    inbox_replies: str,
    http: ClientSession,
    new_account: Any,
    fake_server: tuple[FakeWeChat, str],
) -> Desk:
    fake, _ = fake_server
    account = await new_account("plain")
    fake.register(FakeAccount(appid=account.appid, secret="secret"))
    url = f"{gateway}/api/tenants/{account.tenant_id}/keys"
    async with http.post(url, json={"name": "Alice at the desk"}, headers=ADMIN) as response:
        assert response.status == 201
        made = await response.json()
    key = {"Authorization": f"Bearer {made['key']}"}
    return Desk(http, gateway, inbox_replies, account, fake, key, made["id"])


async def test_an_unanswered_message_is_listed_and_answered_exactly_once(desk: Desk) -> None:
    event_id = await desk.message("o_ask", "有人吗?")

    status, page = await desk.call("GET")
    assert status == 200
    [item] = page["items"]
    assert (item["id"], item["status"], item["openid"], item["type"]) == (
        event_id,
        "open",
        "o_ask",
        "msg.text",
    )
    assert 48 * 3600 - 60 < item["window_left_seconds"] <= 48 * 3600
    assert page["next_before"] is None

    reply = {"reply": {"type": "text", "content": "您好 {openid}"}, "note": "asked about hours"}
    racing = await asyncio.gather(
        *(desk.call("POST", f"/{event_id}/reply", reply) for _ in range(4))
    )  # a double click, twice, on two desks
    assert sorted(status for status, _ in racing) == [200, 409, 409, 409], racing
    [answered] = [body for status, body in racing if status == 200]
    assert answered["status"] == "answered"
    assert answered["answered_by"] == {
        "scope": "tenant",
        "key_id": desk.key_id,
        "name": "Alice at the desk",
    }
    assert answered["note"] == "asked about hours"
    assert answered["reply"] == {"type": "text", "content": "您好 o_ask"}
    assert answered["answered_at"] is not None

    expected = {"touser": "o_ask", "msgtype": "text", "text": {"content": "您好 o_ask"}}
    await stays_true(lambda: desk.sent_to("o_ask") == [expected], SETTLE, "one message only")
    status, again = await desk.call("POST", f"/{event_id}/reply", reply)
    assert (status, again["error"]["code"]) == (409, "not_open")
    status, closing = await desk.call("POST", f"/{event_id}/close", {})
    assert (status, closing["error"]["code"]) == (409, "not_open")
    assert len(desk.sent_to("o_ask")) == 1

    _, open_page = await desk.call("GET")
    assert open_page["items"] == []
    _, answered_page = await desk.call("GET", "?status=answered")
    assert [i["id"] for i in answered_page["items"]] == [event_id]


async def test_the_answer_is_kept_as_a_customer_service_claim(desk: Desk, mongo: Client) -> None:
    event_id = await desk.message("o_claim", "claim me")

    text = {"reply": {"type": "text", "content": "ok"}}
    status, _ = await desk.call("POST", f"/{event_id}/reply", text)

    assert status == 200
    sent = mongo[f"wxp_t_{desk.account.tenant_id}"].replies_sent
    claim = await sent.find_one({"_id": claim_key(event_id)})
    assert claim is not None
    assert (claim["status"], claim["openid"], claim["rule_id"]) == ("sent", "o_claim", "inbox")


async def test_refusals_send_nothing_and_change_nothing(desk: Desk, http: ClientSession) -> None:
    stale = int(time.time()) - 49 * 3600  # the reader wrote 49 hours ago
    old_id = await desk.message("o_late", "still there?", create_time=stale)
    fresh_id = await desk.message("o_fresh", "hello?")
    text = {"reply": {"type": "text", "content": "hi"}}

    _, page = await desk.call("GET")
    by_id = {i["id"]: i for i in page["items"]}
    assert by_id[old_id]["window_left_seconds"] == 0
    assert [i["id"] for i in page["items"]] == [fresh_id, old_id]  # newest first

    status, body = await desk.call("POST", f"/{old_id}/reply", text)
    assert (status, body["error"]["code"]) == (422, "window_closed")
    status, body = await desk.call("POST", f"/{fresh_id}/reply", {"reply": {"type": "text"}})
    assert (status, body["error"]["field"]) == (422, "reply.content")
    status, body = await desk.call("POST", f"/{fresh_id}/reply", {**text, "to": "o_other"})
    assert (status, body["error"]["field"]) == (422, "to")
    status, body = await desk.call("POST", "/0123456789abcdef/reply", text)
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await desk.call("GET", "?status=pending")
    assert (status, body["error"]["field"]) == (422, "status")
    status, body = await desk.call("GET", "?limit=500")
    assert (status, body["error"]["field"]) == (422, "limit")

    async with http.post(
        f"{desk.gateway}/api/tenants", headers=ADMIN, json=other_tenant()
    ) as response:
        other = await response.json()
    try:
        url = f"{desk.gateway}/api/tenants/{other['id']}/keys"
        async with http.post(url, json={"name": "other"}, headers=ADMIN) as response:
            other_key = {"Authorization": f"Bearer {(await response.json())['key']}"}
        for method, path in (("GET", ""), ("POST", f"/{fresh_id}/reply")):
            status, body = await desk.call(method, path, text, headers=other_key)
            assert (status, body["error"]["code"]) == (404, "not_found"), path
    finally:
        async with http.delete(f"{desk.gateway}/api/tenants/{other['id']}", headers=ADMIN):
            pass

    assert desk.sent_to("o_late") == []
    assert desk.sent_to("o_fresh") == []
    _, page = await desk.call("GET")
    assert {i["id"]: i["status"] for i in page["items"]} == {old_id: "open", fresh_id: "open"}


def other_tenant() -> dict[str, str]:
    return {
        "name": "Another account",
        "appid": "wx" + secrets.token_hex(8),
        "app_secret": "s",
        "account_type": "service",
        "encrypt_mode": "plain",
    }


async def test_unknown_tenants_are_not_found(inbox_replies: str, http: ClientSession) -> None:
    base = f"{inbox_replies}/api/tenants/no-such-tenant-{secrets.token_hex(3)}/inbox"
    for method, path, body in (
        ("GET", "", None),
        ("POST", "/0123456789abcdef/reply", {"reply": {"type": "text", "content": "x"}}),
        ("POST", "/0123456789abcdef/close", None),
    ):
        async with http.request(method, base + path, json=body, headers=ADMIN) as response:
            assert response.status == 404, path
            assert (await response.json())["error"]["code"] == "not_found"


async def test_a_wechat_refusal_reopens_the_message_and_a_retry_sends_it(desk: Desk) -> None:
    event_id = await desk.message("o_media", "a photo?")
    desk.fake.add_fault(Fault(path=CS_SEND, errcode=40007, times=1, appid=desk.account.appid))
    image = {"reply": {"type": "image", "media_id": "MEDIA_GONE"}}

    status, body = await desk.call("POST", f"/{event_id}/reply", image)

    assert (status, body["error"]["code"]) == (422, "wechat_refused")
    assert "40007" in body["error"]["message"]
    _, page = await desk.call("GET")
    [item] = page["items"]
    assert (item["status"], item["answered_by"]) == ("open", None)
    assert "40007" in item["error"]

    status, answered = await desk.call("POST", f"/{event_id}/reply", image)
    assert (status, answered["status"], answered["error"]) == (200, "answered", None)
    assert len(desk.sent_to("o_media")) == 2  # the refused call, then the one that went


async def test_the_readers_quota_is_respected(desk: Desk) -> None:
    ids = [await desk.message("o_chatty", f"question {n}") for n in range(QUOTA + 1)]
    text = {"reply": {"type": "text", "content": "answer"}}

    for event_id in ids[:QUOTA]:
        status, _ = await desk.call("POST", f"/{event_id}/reply", text)
        assert status == 200
    status, body = await desk.call("POST", f"/{ids[QUOTA]}/reply", text)

    assert (status, body["error"]["code"]) == (422, "quota_exhausted")
    assert len(desk.sent_to("o_chatty")) == QUOTA
    _, page = await desk.call("GET")
    assert [i["id"] for i in page["items"]] == [ids[QUOTA]]  # still open


async def test_closing_records_who_and_why_and_is_idempotent(desk: Desk) -> None:
    event_id = await desk.message("o_spam", "buy followers cheap")

    status, closed = await desk.call("POST", f"/{event_id}/close", {"note": "spam"})
    assert (status, closed["status"], closed["note"]) == (200, "closed", "spam")
    assert closed["closed_by"]["key_id"] == desk.key_id
    assert closed["closed_at"] is not None

    status, again = await desk.call("POST", f"/{event_id}/close")
    unchanged = {k: v for k, v in closed.items() if k != "window_left_seconds"}  # it ticks
    assert (status, {k: again[k] for k in unchanged}) == (200, unchanged)
    text = {"reply": {"type": "text", "content": "no"}}
    status, body = await desk.call("POST", f"/{event_id}/reply", text)
    assert (status, body["error"]["code"]) == (409, "not_open")
    assert desk.sent_to("o_spam") == []
    _, page = await desk.call("GET", "?status=closed")
    assert [i["id"] for i in page["items"]] == [event_id]


async def test_pages_go_newest_first_with_a_cursor(desk: Desk) -> None:
    ids = [await desk.message(f"o_page{n}", f"page {n}") for n in range(5)]

    seen: list[str] = []
    before: str | None = None
    for _ in range(4):
        query = "?limit=2" + (f"&before={before}" if before else "")
        status, page = await desk.call("GET", query)
        assert status == 200
        seen += [i["id"] for i in page["items"]]
        before = page["next_before"]
        if before is None:
            break

    assert seen == ids[::-1]
    status, body = await desk.call("GET", "?before=0123456789abcdef")
    assert (status, body["error"]["field"]) == (422, "before")


async def test_an_answered_rule_and_an_event_stay_out(desk: Desk, inbox_replies: str) -> None:
    rule = {
        "name": "hours",
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": "contains", "pattern": "hours"},
        "reply": {"type": "text", "content": "9 to 5"},
    }
    url = f"{inbox_replies}/api/tenants/{desk.account.tenant_id}/rules"
    async with desk.http.post(url, json=rule, headers=ADMIN) as response:
        assert response.status == 201
    answer = await send(
        desk.http, desk.gateway, desk.account, "text", overrides={"Content": "hours?"}
    )
    assert b"9 to 5" in answer.body
    click = {"EventKey": "NO_RULE"}
    await send(desk.http, desk.gateway, desk.account, "event:CLICK", overrides=click)
    marker = await desk.message("o_marker", "after the others")  # handled after them

    _, page = await desk.call("GET", "?status=all")
    assert [i["id"] for i in page["items"]] == [marker]


async def test_retention_purges_old_claims_and_items_in_batches(
    mongo: Client, created_tenants: list[str]
) -> None:
    now = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    tenant_id = f"ret-{secrets.token_hex(4)}"
    await mongo["wxp_control"].tenants.insert_one(tenant_record(tenant_id, "Retention"))
    created_tenants.append(tenant_id)
    inbox = InboxStore(mongo, window=timedelta(hours=48), clock=lambda: now)
    sent = SentStore(mongo)
    try:
        for days in (45, 40, 31, 30.5, 29, 1):
            at = now - timedelta(days=days)
            await inbox.record(message(f"m{days}", tenant=tenant_id, occurred=at))
            await sent.insert(tenant_id, Claim(f"m{days}", 0, "o_1", "r1", at, status="sent"))
        metrics = ReplyMetrics.create(CollectorRegistry())
        retention = Retention(
            tenants=lambda: asyncio.sleep(0, [tenant_id]),
            stores={"replies_sent": sent, "replies_inbox": inbox},
            metrics=metrics,
            keep=timedelta(days=30),
            interval=3600,
            batch=2,
            clock=lambda: now,
        )

        assert await retention.purge() == {"replies_sent": 4, "replies_inbox": 4}
        db = mongo[f"wxp_t_{tenant_id}"]
        assert sorted([d["_id"] async for d in db.replies_inbox.find({})]) == ["m1", "m29"]
        assert sorted([d["_id"] async for d in db.replies_sent.find({})]) == ["m1", "m29"]
        assert await retention.purge() == {"replies_sent": 0, "replies_inbox": 0}
        assert metrics.purged.labels("replies_inbox")._value.get() == 4
        assert tenant_id in await every_tenant(mongo)()
    finally:
        await mongo.drop_database(f"wxp_t_{tenant_id}")


async def test_the_retention_loop_runs_supervised(inbox_replies: str, http: ClientSession) -> None:
    async with http.get(f"{inbox_replies}/metrics") as response:
        text = await response.text()
    assert 'wxp_background_task_up{task="Retention.run"} 1.0' in text
