"""The fake WeChat API's QR codes and user analytics behave like WeChat's, so the analytics
service's tests can trust it: temporary and permanent codes with their bounds and the
permanent-code limit, the 7-day span, data ready from 08:00 Beijing time the next day,
and the fixtures a test sets, per source and cumulated; through the token check, the
call log and fault injection like every endpoint."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.support.fake_wechat import Account, FakeAdmin, FakeWeChat, Fault

QRCODE = "/cgi-bin/qrcode/create"
SUMMARY, CUMULATE = "/datacube/getusersummary", "/datacube/getusercumulate"
SECRET = "datacube-secret"
PERMANENT_LIMIT = 3
BAD_SCENE = {"errcode": 40053, "errmsg": "invalid action info, please check document"}
BAD_EXPIRY = {"errcode": 40035, "errmsg": "invalid parameter: expire_seconds"}
DATE_RANGE = {"errcode": 61501, "errmsg": "date range error"}
Json = dict[str, Any]


def beijing(*date: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """Wall-clock seconds of a Beijing time on ``date`` (year, month, day)."""
    year, month, day = date
    zone = ZoneInfo("Asia/Shanghai")
    return datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()


def temporary(scene: int | str, expire_seconds: int | None = None) -> Json:
    action, key = (
        ("QR_STR_SCENE", "scene_str") if isinstance(scene, str) else ("QR_SCENE", "scene_id")
    )
    body: Json = {"action_name": action, "action_info": {"scene": {key: scene}}}
    if expire_seconds is not None:
        body["expire_seconds"] = expire_seconds
    return body


def permanent(scene: int | str) -> Json:
    if isinstance(scene, str):
        return {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
    return {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": scene}}}


def span(begin: str, end: str) -> Json:
    return {"begin_date": begin, "end_date": end}


@dataclass
class Wx:
    fake: FakeWeChat
    base: str
    http: aiohttp.ClientSession
    wall: list[float]  # the fake's wall clock, set by the test
    tokens: dict[str, str] = field(default_factory=dict)

    async def account(self) -> str:
        appid = "wx" + secrets.token_hex(8)
        self.fake.register(Account(appid, SECRET))
        query = {"grant_type": "client_credential", "appid": appid, "secret": SECRET}
        async with self.http.get(f"{self.base}/cgi-bin/token", params=query) as response:
            self.tokens[appid] = (await response.json())["access_token"]
        return appid

    async def post(self, appid: str, path: str, body: Json, *, token: str | None = None) -> Json:
        async with self.http.post(
            self.base + path,
            params={"access_token": self.tokens[appid] if token is None else token},
            data=json.dumps(body, ensure_ascii=False).encode(),
        ) as response:
            assert response.status == 200, response.status
            answer: Json = await response.json()
            return answer


@pytest.fixture
async def wx() -> AsyncIterator[Wx]:
    wall = [beijing(2026, 12, 2, hour=12)]
    fake = FakeWeChat(
        expires_in=10**8, wall=lambda: wall[0], permanent_qrcode_limit=PERMANENT_LIMIT
    )
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server(access_log=None)
    async with aiohttp.ClientSession() as http:
        yield Wx(fake, str(server.make_url("")).rstrip("/"), http, wall)
    await server.close()


async def test_a_temporary_code_lasts_as_asked_or_thirty_seconds(wx: Wx) -> None:
    appid = await wx.account()
    asked = await wx.post(appid, QRCODE, temporary("bind-42", 3600))
    assert set(asked) == {"ticket", "expire_seconds", "url"}
    assert asked["expire_seconds"] == 3600
    assert asked["url"].startswith("http://weixin.qq.com/q/")
    unsaid = await wx.post(appid, QRCODE, temporary(7))
    assert unsaid["expire_seconds"] == 30
    assert unsaid["ticket"] != asked["ticket"]

    [first, second] = wx.fake.qrcodes(appid)
    assert (first.ticket, first.url) == (asked["ticket"], asked["url"])
    assert (first.action_name, first.scene, first.expire_seconds) == (
        "QR_STR_SCENE",
        "bind-42",
        3600,
    )
    assert (second.action_name, second.scene, second.expire_seconds) == ("QR_SCENE", 7, 30)
    assert first.created_at == wx.wall[0]
    assert not first.permanent


async def test_a_temporary_code_lives_sixty_seconds_to_thirty_days(wx: Wx) -> None:
    appid = await wx.account()
    for seconds in (60, 2592000):
        assert (await wx.post(appid, QRCODE, temporary("s", seconds)))["expire_seconds"] == seconds
    for seconds in (59, 0, -60, 2592001):
        assert await wx.post(appid, QRCODE, temporary("s", seconds)) == BAD_EXPIRY
    assert await wx.post(appid, QRCODE, {**temporary(1), "expire_seconds": "600"}) == BAD_EXPIRY
    assert [code.expire_seconds for code in wx.fake.qrcodes(appid)] == [60, 2592000]


async def test_a_permanent_code_never_expires_and_keeps_its_ticket(wx: Wx) -> None:
    appid = await wx.account()
    made = await wx.post(appid, QRCODE, {**permanent("shop-7"), "expire_seconds": 600})
    assert set(made) == {"ticket", "url"}
    assert await wx.post(appid, QRCODE, permanent("shop-7")) == made  # the same code again
    by_id = await wx.post(appid, QRCODE, permanent(7))
    assert by_id["ticket"] != made["ticket"]

    [code, other] = wx.fake.qrcodes(appid)
    assert (code.ticket, code.scene, code.expire_seconds) == (made["ticket"], "shop-7", None)
    assert code.permanent
    assert (other.action_name, other.scene) == ("QR_LIMIT_SCENE", 7)


async def test_scenes_are_checked_by_kind_and_bounds(wx: Wx) -> None:
    appid = await wx.account()
    for body in (
        temporary(""),
        temporary("x" * 65),
        permanent("码" * 65),
        temporary(0),
        temporary(2**32),
        permanent(100001),
        permanent(0),
        {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_str": "a"}}},
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_id": 1}}},
        {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": "5"}}},
        {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": True}}},
        {"action_name": "QR_LIMIT_SCENE", "action_info": {}},
        {"action_name": "QR_LIMIT_SCENE"},
    ):
        assert await wx.post(appid, QRCODE, body) == BAD_SCENE, body
    bad_name = {"errcode": 40052, "errmsg": "invalid action name"}
    assert await wx.post(appid, QRCODE, {**permanent(1), "action_name": "QR_FOREVER"}) == bad_name
    assert wx.fake.qrcodes(appid) == []

    for body in (
        temporary("x"),
        temporary("x" * 64),
        permanent("码" * 64),  # 64 characters, 192 bytes
        temporary(1),
        temporary(2**32 - 1),
        temporary(100001),
        permanent(1),
        permanent(100000),
    ):
        assert "ticket" in await wx.post(appid, QRCODE, body), body
    assert len(wx.fake.qrcodes(appid)) == 8


async def test_an_account_has_a_limited_number_of_permanent_codes(wx: Wx) -> None:
    appid = await wx.account()
    other = await wx.account()
    for scene in ("a", "b", 3):
        assert "ticket" in await wx.post(appid, QRCODE, permanent(scene))
    full = {"errcode": 45029, "errmsg": "qrcode count out of limit"}
    assert await wx.post(appid, QRCODE, permanent("d")) == full
    assert await wx.post(appid, QRCODE, permanent(4)) == full
    assert "ticket" in await wx.post(appid, QRCODE, permanent("a"))  # an old one: not new
    assert "ticket" in await wx.post(appid, QRCODE, temporary("d", 600))  # temporary: no limit
    assert "ticket" in await wx.post(other, QRCODE, permanent("d"))  # counted per account
    assert [code.scene for code in wx.fake.qrcodes(appid)] == ["a", "b", 3, "d"]


async def test_qrcode_goes_through_the_token_the_log_and_faults(wx: Wx) -> None:
    appid = await wx.account()
    stale = {
        "errcode": 40001,
        "errmsg": "invalid credential, access_token is invalid or not latest",
    }
    assert await wx.post(appid, QRCODE, permanent(1), token="nope") == stale
    wx.fake.add_fault(Fault(QRCODE, errcode=45009, times=1, appid=appid))
    assert (await wx.post(appid, QRCODE, permanent(1)))["errcode"] == 45009
    assert wx.fake.qrcodes(appid) == []  # refused before handling: not made
    wx.fake.add_fault(Fault(SUMMARY, status=503, times=1))
    async with wx.http.post(
        wx.base + SUMMARY,
        params={"access_token": wx.tokens[appid]},
        json=span("2026-11-30", "2026-11-30"),
    ) as response:
        assert response.status == 503

    made = await wx.post(appid, QRCODE, permanent(1))
    calls = wx.fake.calls(QRCODE)
    assert [(c.appid, c.errcode) for c in calls] == [(None, 40001), (appid, 45009), (appid, 0)]
    assert calls[-1].body == permanent(1)
    assert [c.status for c in wx.fake.calls(SUMMARY, appid)] == [503]
    assert [code.ticket for code in wx.fake.qrcodes(appid)] == [made["ticket"]]


async def test_analytics_span_at_most_seven_days_in_order(wx: Wx) -> None:
    appid = await wx.account()  # wall: 2 December 2026, 12:00 in Beijing
    week = await wx.post(appid, CUMULATE, span("2026-11-25", "2026-12-01"))
    assert [row["ref_date"] for row in week["list"]] == [f"2026-11-{d}" for d in range(25, 31)] + [
        "2026-12-01"
    ]
    one = await wx.post(appid, SUMMARY, span("2026-11-30", "2026-11-30"))
    assert one == {
        "list": [{"ref_date": "2026-11-30", "user_source": 0, "new_user": 0, "cancel_user": 0}]
    }
    for path in (SUMMARY, CUMULATE):
        assert await wx.post(appid, path, span("2026-11-24", "2026-12-01")) == DATE_RANGE
        assert await wx.post(appid, path, span("2026-12-01", "2026-11-30")) == DATE_RANGE
    bad_format = {"errcode": 61500, "errmsg": "date format error"}
    for body in (
        span("20261130", "20261201"),
        span("2026-11-31", "2026-12-01"),
        span("2026-11-30", "2026-12-1"),
        {"begin_date": "2026-11-30"},
        {"begin_date": 20261130, "end_date": "2026-11-30"},
    ):
        assert await wx.post(appid, SUMMARY, body) == bad_format, body


async def test_yesterday_is_ready_from_eight_in_the_morning_beijing_time(wx: Wx) -> None:
    appid = await wx.account()
    yesterday = span("2026-12-01", "2026-12-01")
    wx.wall[0] = beijing(2026, 12, 2, hour=7, minute=59, second=59)
    for path in (SUMMARY, CUMULATE):
        assert await wx.post(appid, path, yesterday) == DATE_RANGE
    assert "list" in await wx.post(appid, SUMMARY, span("2026-11-30", "2026-11-30"))
    wx.wall[0] = beijing(2026, 12, 2, hour=8)  # 1 December, 24:00 in UTC
    for path in (SUMMARY, CUMULATE):
        assert [row["ref_date"] for row in (await wx.post(appid, path, yesterday))["list"]] == [
            "2026-12-01"
        ]
    wx.wall[0] = beijing(2026, 12, 2, hour=23, minute=59)
    today = span("2026-12-02", "2026-12-02")
    assert await wx.post(appid, SUMMARY, today) == DATE_RANGE
    assert await wx.post(appid, CUMULATE, span("2026-11-28", "2026-12-02")) == DATE_RANGE
    assert await wx.post(appid, SUMMARY, span("2026-12-03", "2026-12-03")) == DATE_RANGE


async def test_fixtures_answer_per_source_and_cumulate_with_zeros_between(wx: Wx) -> None:
    appid = await wx.account()
    other = await wx.account()
    wx.fake.set_datacube(
        appid,
        {
            "2026-11-26": {"cumulate": 1000},
            "2026-11-28": {"sources": {"30": [12, 1], "0": [3, 2], "57": [5, 0]}, "cumulate": 1017},
            "2026-11-30": {"sources": {"1": [4, 4]}},
        },
    )
    summary = await wx.post(appid, SUMMARY, span("2026-11-27", "2026-11-30"))
    rows = [
        (r["ref_date"], r["user_source"], r["new_user"], r["cancel_user"]) for r in summary["list"]
    ]
    assert rows == [
        ("2026-11-27", 0, 0, 0),
        ("2026-11-28", 0, 3, 2),
        ("2026-11-28", 30, 12, 1),
        ("2026-11-28", 57, 5, 0),
        ("2026-11-29", 0, 0, 0),
        ("2026-11-30", 1, 4, 4),
    ]
    cumulate = await wx.post(appid, CUMULATE, span("2026-11-25", "2026-12-01"))
    assert [(r["ref_date"], r["cumulate_user"]) for r in cumulate["list"]] == [
        ("2026-11-25", 0),
        ("2026-11-26", 1000),
        ("2026-11-27", 1000),
        ("2026-11-28", 1017),
        ("2026-11-29", 1017),
        ("2026-11-30", 1017),
        ("2026-12-01", 1017),
    ]
    wx.fake.set_datacube(appid, {"2026-11-30": {"cumulate": 1020}})  # replaces that day
    again = await wx.post(appid, SUMMARY, span("2026-11-30", "2026-11-30"))
    assert [r["user_source"] for r in again["list"]] == [0]
    assert (await wx.post(appid, CUMULATE, span("2026-12-01", "2026-12-01")))["list"] == [
        {"ref_date": "2026-12-01", "cumulate_user": 1020}
    ]
    theirs = await wx.post(other, CUMULATE, span("2026-11-28", "2026-11-28"))
    assert theirs == {"list": [{"ref_date": "2026-11-28", "cumulate_user": 0}]}


async def test_the_admin_endpoints_set_fixtures_and_list_codes(wx: Wx) -> None:
    admin = FakeAdmin(wx.http, wx.base)
    appid = await wx.account()
    await admin.set_datacube(appid, {"2026-11-30": {"sources": {"200": [9, 1]}, "cumulate": 58}})
    summary = await wx.post(appid, SUMMARY, span("2026-11-30", "2026-11-30"))
    assert summary["list"] == [
        {"ref_date": "2026-11-30", "user_source": 200, "new_user": 9, "cancel_user": 1}
    ]
    cumulate = await wx.post(appid, CUMULATE, span("2026-11-30", "2026-11-30"))
    assert cumulate["list"] == [{"ref_date": "2026-11-30", "cumulate_user": 58}]

    made = await wx.post(appid, QRCODE, temporary("bind-1", 600))
    await wx.post(appid, QRCODE, permanent(5))
    [temp, forever] = await admin.qrcodes(appid)
    assert (temp["ticket"], temp["scene"], temp["permanent"]) == (made["ticket"], "bind-1", False)
    assert temp["expires_at"] == temp["created_at"] + 600 == wx.wall[0] + 600
    assert (forever["scene"], forever["permanent"], forever["expires_at"]) == (5, True, None)
    assert await admin.qrcodes("wx-nobody") == []
    assert len(await admin.qrcodes()) == 2

    bad_days: list[Any] = [
        {"2026-11-31": {"cumulate": 1}},
        {"30/11/2026": {"cumulate": 1}},
        {"2026-11-30": {"sources": {"51": [1, 0]}}},  # not a documented user_source
        {"2026-11-30": {"sources": {"0": [1]}}},
        {"2026-11-30": {"sources": {"0": [1, -1]}}},
        {"2026-11-30": {"cumulate": "58"}},
        {"2026-11-30": []},
        [],
    ]
    for days in bad_days:
        fields = {"appid": appid, "days": days}
        async with wx.http.post(f"{wx.base}/_fake/datacube", json=fields) as response:
            assert response.status == 400, days
    async with wx.http.post(f"{wx.base}/_fake/datacube", json={"days": {}}) as response:
        assert response.status == 400
    assert (await wx.post(appid, CUMULATE, span("2026-11-30", "2026-11-30")))["list"] == [
        {"ref_date": "2026-11-30", "cumulate_user": 58}
    ]
