"""The fake WeChat API's mass sends behave like WeChat's, so the scheduler's tests can trust
it: clientmsgid repeats, the quotas of each account type by local calendar, the minute
limit, list sizes, delete and get, the signed and encrypted job-finish event (checked with
the gateway's own verification), and faults that strike after a send was accepted."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.gateway.messages import parse_xml, to_envelope
from services.gateway.verify import Credentials, verify_post
from shared.contracts.envelope import message_event_id
from tests.support.bus import stays_true, wait_until
from tests.support.fake_mass import Webhook
from tests.support.fake_wechat import Account, FakeAdmin, FakeWeChat, Fault

MASS = "/cgi-bin/message/mass"
SENDALL, SEND, PREVIEW = f"{MASS}/sendall", f"{MASS}/send", f"{MASS}/preview"
DELETE, GET = f"{MASS}/delete", f"{MASS}/get"
SECRET = "mass-secret"
TOKEN = "mass-token"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
ORIGINAL_ID = "gh_0123456789ab"
NEWS = {"msgtype": "mpnews", "mpnews": {"media_id": "m1"}, "send_ignore_reprint": 0}
TO_ALL = {"filter": {"is_to_all": True}, **NEWS}
TO_TAG = {"filter": {"is_to_all": False, "tag_id": 100}, **NEWS}
PREVIEW_NEWS = {"touser": "o_editor", **NEWS}
Json = dict[str, Any]


def local(zone: str, *date: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """Wall-clock seconds of a local time on ``date`` (year, month, day)."""
    year, month, day = date
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).timestamp()


@dataclass
class Clocks:
    now: float = 1000.0  # the fake's monotonic clock
    wall: float = field(default_factory=lambda: local("Asia/Shanghai", 2025, 3, 10, hour=12))


@dataclass
class Wx:
    fake: FakeWeChat
    server: TestServer
    base: str
    http: aiohttp.ClientSession
    clocks: Clocks
    tokens: dict[str, str] = field(default_factory=dict)

    async def account(self, **fields: Any) -> str:
        appid = "wx" + secrets.token_hex(8)
        self.fake.register(Account(appid, SECRET, **fields))
        await self.token(appid)
        return appid

    async def token(self, appid: str) -> None:
        query = {"grant_type": "client_credential", "appid": appid, "secret": SECRET}
        async with self.http.get(f"{self.base}/cgi-bin/token", params=query) as response:
            self.tokens[appid] = (await response.json())["access_token"]

    async def post(self, appid: str, path: str, body: Json, *, timeout: float = 10.0) -> Json:
        async with self.http.post(
            self.base + path,
            params={"access_token": self.tokens[appid]},
            data=json.dumps(body, ensure_ascii=False).encode(),
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            assert response.status == 200, response.status
            answer: Json = await response.json()
            return answer


@dataclass
class Receiver:
    """Stands in for the gateway's webhook: keeps what WeChat posts."""

    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200s


@pytest.fixture
async def wx() -> AsyncIterator[Wx]:
    clocks = Clocks()
    fake = FakeWeChat(expires_in=10**8, clock=lambda: clocks.now, wall=lambda: clocks.wall)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server(access_log=None)
    async with aiohttp.ClientSession() as http:
        yield Wx(fake, server, str(server.make_url("")).rstrip("/"), http, clocks)
    await server.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    taken = Receiver(url="")

    async def take(request: web.Request) -> web.Response:
        taken.requests.append((dict(request.query), await request.read()))
        status = taken.statuses.pop(0) if taken.statuses else 200
        return web.Response(status=status, text="success")

    app.router.add_post("/wechat/t-mass", take)
    await server.start_server(access_log=None)
    taken.url = str(server.make_url("/wechat/t-mass"))
    yield taken
    await server.close()


def webhook(receiver: Receiver) -> Webhook:
    return Webhook(receiver.url, TOKEN, AES_KEY, ORIGINAL_ID)


def opened(appid: str, request: tuple[dict[str, str], bytes], wall: float) -> dict[str, Any]:
    """The event's fields, verified and decrypted as the gateway does it."""
    query, body = request
    credentials = Credentials(TOKEN, appid, "safe", (AES_KEY,))
    verified = verify_post(credentials, query, body, now=wall, tolerance=60)
    assert verified.encrypted
    return parse_xml(verified.xml)


async def test_a_repeated_clientmsgid_answers_the_earlier_msg_id_for_a_day(wx: Wx) -> None:
    appid = await wx.account()
    other = await wx.account()
    body = {**TO_ALL, "clientmsgid": "run-7"}
    first = await wx.post(appid, SENDALL, body)
    assert first["errcode"] == 0
    assert first["errmsg"] == "send job submission success"
    repeat = {"errcode": 45065, "errmsg": "clientmsgid exist", "msg_id": first["msg_id"]}
    assert await wx.post(appid, SENDALL, body) == repeat
    assert await wx.post(appid, SEND, {"touser": ["o_a", "o_b"], **body}) == repeat
    assert (await wx.post(other, SENDALL, body))["errcode"] == 0  # kept per account
    assert [job.msg_id for job in wx.fake.accepted(appid)] == [first["msg_id"]]

    wx.clocks.now += 24 * 3600 - 1
    assert await wx.post(appid, SENDALL, body) == repeat
    wx.clocks.now += 1
    later = await wx.post(appid, SENDALL, body)
    assert later["errcode"] == 0
    assert later["msg_id"] != first["msg_id"]
    assert len(wx.fake.accepted(appid)) == 2


async def test_a_subscription_account_sends_to_all_once_a_local_day(wx: Wx) -> None:
    zone = "Asia/Shanghai"
    appid = await wx.account(account_type="subscription", timezone=zone)
    wx.clocks.wall = local(zone, 2025, 3, 11, hour=7, minute=30)  # still 10 March in UTC
    assert (await wx.post(appid, SENDALL, TO_ALL))["errcode"] == 0
    wx.clocks.wall = local(zone, 2025, 3, 11, hour=9)  # 11 March in UTC too: the same local day
    no_quota = {"errcode": 45028, "errmsg": "has no masssend quota"}
    assert await wx.post(appid, SENDALL, TO_ALL) == no_quota
    assert await wx.post(appid, SENDALL, TO_TAG) == no_quota
    assert (await wx.post(appid, SEND, {"touser": ["o_a", "o_b"], **NEWS}))["errcode"] == 0

    wx.clocks.wall = local(zone, 2025, 3, 11, hour=23, minute=59, second=59)
    assert await wx.post(appid, SENDALL, TO_TAG) == no_quota
    wx.clocks.wall = local(zone, 2025, 3, 12)
    assert (await wx.post(appid, SENDALL, TO_TAG))["errcode"] == 0
    assert [job.target for job in wx.fake.accepted(appid)] == ["all", "openids", "tag"]


async def test_the_quota_day_is_the_accounts_own(wx: Wx) -> None:
    in_utc = await wx.account(account_type="subscription", timezone="UTC")
    in_shanghai = await wx.account(account_type="subscription", timezone="Asia/Shanghai")
    wx.clocks.wall = datetime(2025, 3, 10, 15, tzinfo=UTC).timestamp()  # 23:00 in Shanghai
    for appid in (in_utc, in_shanghai):
        assert (await wx.post(appid, SENDALL, TO_ALL))["errcode"] == 0
    wx.clocks.wall = datetime(2025, 3, 10, 16, tzinfo=UTC).timestamp()  # Shanghai's midnight
    assert (await wx.post(in_utc, SENDALL, TO_ALL))["errcode"] == 45028
    assert (await wx.post(in_shanghai, SENDALL, TO_ALL))["errcode"] == 0


async def test_a_service_account_sends_to_all_four_times_a_local_month(wx: Wx) -> None:
    zone = "Asia/Shanghai"
    appid = await wx.account(timezone=zone)  # a service account by default
    wx.clocks.wall = local(zone, 2025, 1, 31, hour=12)
    for body in (TO_ALL, TO_TAG, TO_ALL, TO_TAG):
        assert (await wx.post(appid, SENDALL, body))["errcode"] == 0
    assert (await wx.post(appid, SENDALL, TO_ALL))["errcode"] == 45028
    assert (await wx.post(appid, SEND, {"touser": ["o_a", "o_b"], **NEWS}))["errcode"] == 0

    wx.clocks.wall = local(zone, 2025, 2, 1, hour=7)  # still January in UTC
    for _ in range(4):
        assert (await wx.post(appid, SENDALL, TO_ALL))["errcode"] == 0
    assert (await wx.post(appid, SENDALL, TO_ALL))["errcode"] == 45028
    wx.clocks.wall = local(zone, 2025, 2, 28, hour=23, minute=59, second=59)
    assert (await wx.post(appid, SENDALL, TO_ALL))["errcode"] == 45028
    wx.clocks.wall = local(zone, 2025, 3, 1)
    assert (await wx.post(appid, SENDALL, TO_ALL))["errcode"] == 0
    assert len(wx.fake.accepted(appid)) == 10


async def test_a_list_send_takes_two_to_ten_thousand_openids(wx: Wx) -> None:
    appid = await wx.account(followers=frozenset({"o_a", "o_b"}))
    too_few = {"errcode": 40130, "errmsg": "invalid openid list size, at least two openid"}
    assert await wx.post(appid, SEND, {"touser": ["o_a"], **NEWS}) == too_few
    assert await wx.post(appid, SEND, {"touser": [], **NEWS}) == too_few
    many = [f"o_{i}" for i in range(10001)]
    assert (await wx.post(appid, SEND, {"touser": many, **NEWS}))["errcode"] == 40032
    assert wx.fake.accepted(appid) == []

    sent = await wx.post(appid, SEND, {"touser": ["o_a", "o_b", "o_gone"], **NEWS})
    assert sent["errcode"] == 0
    [job] = wx.fake.accepted(appid)
    assert (job.msg_id, job.target, job.total, job.filtered) == (sent["msg_id"], "openids", 3, 2)
    assert (await wx.post(appid, SEND, {"touser": many[:10000], **NEWS}))["errcode"] == 0


async def test_a_mass_image_goes_as_images_and_a_preview_as_image(wx: Wx) -> None:
    appid = await wx.account()
    images = {"msgtype": "image", "images": {"media_ids": ["i1", "i2"], "recommend": "x"}}
    assert (await wx.post(appid, SENDALL, {"filter": {"is_to_all": True}, **images}))[
        "errcode"
    ] == 0
    single = {"msgtype": "image", "image": {"media_id": "i1"}}
    to_all = {"filter": {"is_to_all": True}, **single}
    assert (await wx.post(appid, SENDALL, to_all))["errcode"] == 40008
    empty = {"touser": ["o_a", "o_b"], "msgtype": "image", "images": {"media_ids": []}}
    assert (await wx.post(appid, SEND, empty))["errcode"] == 41006
    assert (await wx.post(appid, PREVIEW, {"touser": "o_a", **single}))["errcode"] == 0
    assert [job.msgtype for job in wx.fake.accepted(appid)] == ["image"]


async def test_sixty_mass_calls_a_rolling_minute_then_45011(wx: Wx) -> None:
    appid = await wx.account()
    other = await wx.account()
    for _ in range(30):
        assert (await wx.post(appid, PREVIEW, PREVIEW_NEWS))["errcode"] == 0
    wx.clocks.now += 30
    for _ in range(30):  # an unknown msg_id is refused, but the call counts
        assert (await wx.post(appid, GET, {"msg_id": 1}))["errcode"] == 9500001
    limited = {"errcode": 45011, "errmsg": "api minute-quota reach limit"}
    assert await wx.post(appid, PREVIEW, PREVIEW_NEWS) == limited
    assert await wx.post(appid, SENDALL, TO_ALL) == limited
    assert (await wx.post(other, PREVIEW, PREVIEW_NEWS))["errcode"] == 0
    assert wx.fake.accepted(appid) == []

    wx.clocks.now += 30  # the first thirty are a minute old
    for _ in range(29):
        assert (await wx.post(appid, PREVIEW, PREVIEW_NEWS))["errcode"] == 0
    assert (await wx.post(appid, SENDALL, TO_ALL))["errcode"] == 0
    assert await wx.post(appid, PREVIEW, PREVIEW_NEWS) == limited


async def test_get_follows_a_job_to_its_end_and_delete(wx: Wx) -> None:
    appid = await wx.account(finish_delay=10.0)
    other = await wx.account()
    msg_id = (await wx.post(appid, SENDALL, TO_ALL))["msg_id"]
    assert await wx.post(appid, GET, {"msg_id": msg_id}) == {
        "msg_id": msg_id,
        "msg_status": "SENDING",
    }
    wx.clocks.now += 10
    assert (await wx.post(appid, GET, {"msg_id": msg_id}))["msg_status"] == "SEND_SUCCESS"

    assert await wx.post(appid, DELETE, {"msg_id": msg_id, "article_idx": 2}) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    assert (await wx.post(appid, GET, {"msg_id": msg_id}))["msg_status"] == "SEND_SUCCESS"
    assert (await wx.post(appid, DELETE, {"msg_id": msg_id}))["errcode"] == 0
    assert (await wx.post(appid, GET, {"msg_id": str(msg_id)}))["msg_status"] == "DELETE"
    [job] = wx.fake.accepted(appid)
    assert (job.deleted, job.deleted_articles) == (True, [2])

    not_found = {"errcode": 9500001, "errmsg": "msg_id not found"}
    assert await wx.post(appid, GET, {"msg_id": msg_id + 999}) == not_found
    assert await wx.post(appid, DELETE, {"msg_id": msg_id + 999}) == not_found
    assert await wx.post(other, GET, {"msg_id": msg_id}) == not_found  # not its job


async def test_the_finish_event_arrives_signed_and_encrypted(wx: Wx, receiver: Receiver) -> None:
    followers = frozenset({"o_a", "o_b"})
    appid = await wx.account(followers=followers, webhook=webhook(receiver), finish_delay=0.05)
    sent = await wx.post(appid, SEND, {"touser": ["o_a", "o_b", "o_gone"], **NEWS})
    await wait_until(lambda: len(receiver.requests) == 1, timeout=5, what="the finish event")

    query, body = receiver.requests[0]
    assert query["encrypt_type"] == "aes"
    assert b"MASSSENDJOBFINISH" not in body  # safe mode: only the ciphertext
    fields = opened(appid, receiver.requests[0], wx.clocks.wall)
    assert fields == {
        "ToUserName": ORIGINAL_ID,
        "FromUserName": "mphelper",
        "CreateTime": str(int(wx.clocks.wall)),
        "MsgType": "event",
        "Event": "MASSSENDJOBFINISH",
        "MsgID": str(sent["msg_id"]),
        "Status": "send success",
        "TotalCount": "3",
        "FilterCount": "2",
        "SentCount": "2",
        "ErrorCount": "0",
        "CopyrightCheckResult": {"Count": "0", "ResultList": "", "CheckState": "1"},
        "ArticleUrlResult": {"Count": "0", "ResultList": ""},
    }
    envelope = to_envelope("t-mass", fields, received_at=datetime.now(UTC))
    assert envelope.type == "event.masssendjobfinish"
    assert envelope.id == message_event_id("t-mass", str(sent["msg_id"]))
    [job] = wx.fake.accepted(appid)
    assert (job.callback, job.attempts) == ("delivered", ["200"])


async def test_a_failed_job_is_reported_again_until_taken(wx: Wx, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    appid = await wx.account(
        webhook=webhook(receiver), finish_delay=0.05, finish_status="err(10001)"
    )
    later = wx.clocks.wall + 3600
    wx.fake.wall = lambda: later  # a wall clock swapped while the fake runs is the one used
    sent = await wx.post(appid, SENDALL, TO_TAG)
    [job] = wx.fake.accepted(appid)
    await wait_until(lambda: job.callback == "delivered", timeout=5, what="the third attempt")

    assert job.attempts == ["500", "503", "200"]
    assert len({body for _, body in receiver.requests}) == 1  # the same request each time
    fields = opened(appid, receiver.requests[-1], later)
    assert (fields["MsgID"], fields["Status"]) == (str(sent["msg_id"]), "err(10001)")
    assert fields["CreateTime"] == str(int(later))
    counts = [fields[name] for name in ("TotalCount", "FilterCount", "SentCount", "ErrorCount")]
    assert counts == ["100", "100", "0", "100"]
    wx.clocks.now += 0.05
    assert (await wx.post(appid, GET, {"msg_id": sent["msg_id"]}))["msg_status"] == "SEND_FAIL"


async def test_an_unreachable_webhook_is_tried_three_times_and_logged(
    wx: Wx, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    closed = Webhook(f"http://127.0.0.1:{port}/wechat/t", TOKEN, AES_KEY, ORIGINAL_ID)
    appid = await wx.account(webhook=closed, finish_delay=0.0)
    with caplog.at_level(logging.WARNING, logger="tests.support.fake_mass"):
        await wx.post(appid, SENDALL, TO_ALL)
        [job] = wx.fake.accepted(appid)
        await wait_until(lambda: job.callback == "failed", timeout=10, what="three attempts")

    assert len(job.attempts) == 3
    assert "200" not in job.attempts
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"finish event of {job.msg_id} for {appid} not delivered"
    ]


async def test_a_suppressed_event_leaves_only_mass_get(wx: Wx, receiver: Receiver) -> None:
    appid = await wx.account(webhook=webhook(receiver), finish_delay=0.05, finish_event=False)
    msg_id = (await wx.post(appid, SENDALL, TO_ALL))["msg_id"]
    await stays_true(lambda: not receiver.requests, 0.5, what="no finish event")
    [job] = wx.fake.accepted(appid)
    assert job.callback == "suppressed"
    wx.clocks.now += 0.05
    assert (await wx.post(appid, GET, {"msg_id": msg_id}))["msg_status"] == "SEND_SUCCESS"


async def test_shutting_down_cancels_the_events_still_waiting(wx: Wx, receiver: Receiver) -> None:
    appid = await wx.account(webhook=webhook(receiver), finish_delay=60.0)
    await wx.post(appid, SENDALL, TO_ALL)
    [job] = wx.fake.accepted(appid)
    waiting = [t for t in asyncio.all_tasks() if t.get_name() == f"fake-wechat finish {job.msg_id}"]
    assert len(waiting) == 1

    await wx.server.close()
    assert waiting[0].cancelled()
    assert job.callback == "pending"
    assert receiver.requests == []


async def test_a_fault_after_handling_keeps_the_send(wx: Wx) -> None:
    appid = await wx.account()
    body = {**TO_ALL, "clientmsgid": "crash-1"}
    wx.fake.add_fault(Fault(SENDALL, delay=1.0, times=1, appid=appid, after=True))
    with pytest.raises(TimeoutError):
        await wx.post(appid, SENDALL, body, timeout=0.2)  # the client gives up
    [job] = wx.fake.accepted(appid)  # yet WeChat has the job
    retried = await wx.post(appid, SENDALL, body)
    assert (retried["errcode"], retried["msg_id"]) == (45065, job.msg_id)

    wx.fake.add_fault(Fault(SEND, status=502, times=1, appid=appid))
    to_two = {"touser": ["o_a", "o_b"], **NEWS}
    async with wx.http.post(
        wx.base + SEND, params={"access_token": wx.tokens[appid]}, json=to_two
    ) as response:
        assert response.status == 502
    assert len(wx.fake.accepted(appid)) == 1  # refused before handling: not sent

    wx.fake.add_fault(Fault(SEND, status=502, times=1, appid=appid, after=True))
    async with wx.http.post(
        wx.base + SEND, params={"access_token": wx.tokens[appid]}, json=to_two
    ) as response:
        assert response.status == 502
    assert [j.target for j in wx.fake.accepted(appid)] == ["all", "openids"]
    assert [c.status for c in wx.fake.calls(SEND, appid)] == [502, 502]


async def test_the_admin_endpoints_take_mass_settings_and_list_jobs(
    wx: Wx, receiver: Receiver
) -> None:
    admin = FakeAdmin(wx.http, wx.base)
    appid = "wx" + secrets.token_hex(8)
    await admin.register(
        appid,
        SECRET,
        account_type="subscription",
        timezone="UTC",
        webhook_url=receiver.url,
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        original_id=ORIGINAL_ID,
        finish_delay=30,
        finish_status="err(20001)",
        finish_event=False,
    )
    account = wx.fake.accounts[appid]
    assert (account.account_type, account.timezone) == ("subscription", "UTC")
    assert account.webhook == webhook(receiver)
    assert (account.finish_delay, account.finish_status) == (30.0, "err(20001)")
    assert account.finish_event is False

    await wx.token(appid)
    await admin.add_fault(path=SENDALL, appid=appid, after=True, errcode=-1, times=1)
    assert (await wx.post(appid, SENDALL, {**TO_ALL, "clientmsgid": "a-1"}))["errcode"] == -1
    [job] = await admin.mass_jobs(appid)
    assert (job["target"], job["clientmsgid"], job["status"]) == ("all", "a-1", "SENDING")
    assert (job["callback"], job["finish_status"]) == ("suppressed", "err(20001)")
    assert await admin.mass_jobs("wx-nobody") == []

    short_key = {"webhook_url": receiver.url, "token": TOKEN, "original_id": ORIGINAL_ID}
    bad_fields: list[Json] = [
        {"account_type": "enterprise"},
        {"timezone": "Mars/Olympus"},
        {**short_key, "encoding_aes_key": "too-short"},
    ]
    for bad in bad_fields:
        fields = {"appid": "wx-bad", "secret": SECRET, **bad}
        async with wx.http.post(f"{wx.base}/_fake/accounts", json=fields) as response:
            assert response.status == 400
    assert "wx-bad" not in wx.fake.accounts
