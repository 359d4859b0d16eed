"""The WeChat client and the shared token service against the in-process fake WeChat API
and the real FerretDB: one token fetch shared by instances, one refresh per refused
token, bounded retries of transient failures, typed errors, nothing secret in the logs."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from shared.platform.secretbox import SecretBox
from shared.platform.storage import CONTROL_DB, Client
from shared.wechat.client import WeChatClient
from shared.wechat.errors import (
    InvalidCredential,
    InvalidMedia,
    NotFollowing,
    OutOfWindow,
    RateLimited,
    Transient,
    WeChatError,
)
from shared.wechat.http import WeChatHttp
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.retry import RetryPolicy
from shared.wechat.token_policy import TokenPolicy
from shared.wechat.token_store import LEASES, TOKENS
from shared.wechat.tokens import TokenService
from tests.support.fake_wechat import Account, Call, FakeWeChat, Fault

INFO = "/cgi-bin/user/info"
SEND = "/cgi-bin/message/custom/send"
TOKEN = "/cgi-bin/token"
FAST = RetryPolicy(attempts=3, base=0.05, cap=0.2)


@dataclass
class Fixture:
    fake: FakeWeChat
    base: str
    mongo: Client
    session: aiohttp.ClientSession
    appid: str = field(default_factory=lambda: "wx" + secrets.token_hex(8))
    secret: str = field(default_factory=lambda: secrets.token_hex(16))

    def stack(
        self,
        *,
        secret: str | None = None,
        timeout: float = 2.0,
        retry: RetryPolicy = FAST,
        rand: Callable[[], float] | None = None,
        policy: TokenPolicy | None = None,
    ) -> Stack:
        registry = CollectorRegistry()
        metrics = WeChatMetrics.create(registry)
        extra = {} if rand is None else {"rand": rand}
        http = WeChatHttp(
            self.session,
            base_url=self.base,
            timeout_seconds=timeout,
            retry=retry,
            metrics=metrics,
            **extra,
        )

        async def secret_for(_: str) -> str:
            return self.secret if secret is None else secret

        tokens = TokenService(
            self.mongo[CONTROL_DB],
            box(),
            fetch=http.fetch_token,
            secret_for=secret_for,
            policy=policy,
            metrics=metrics,
        )
        return Stack(WeChatClient(http, tokens), registry)

    def calls(self, path: str) -> list[Call]:
        return list(self.fake.calls(path, self.appid))


@dataclass
class Stack:
    client: WeChatClient
    registry: CollectorRegistry

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def box() -> SecretBox:
    return SecretBox.from_setting(os.environ["WXP_MASTER_KEY"])


@pytest.fixture(scope="module")
async def fake_server() -> AsyncIterator[tuple[FakeWeChat, str]]:
    fake = FakeWeChat(expires_in=7200, grace=0.0)
    # No access log: it is WeChat's side, and would print the tokens in the URLs it serves.
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server(access_log=None)
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def wx(fake_server: tuple[FakeWeChat, str], mongo: Client) -> AsyncIterator[Fixture]:
    fake, base = fake_server
    async with aiohttp.ClientSession() as session:
        fx = Fixture(fake, base, mongo, session)
        followers = frozenset({"o_alice", "o_bob"})
        fake.register(Account(fx.appid, fx.secret, followers, frozenset({"o_bob"})))
        yield fx
    for name in (TOKENS, LEASES):
        await mongo[CONTROL_DB][name].delete_many({"_id": fx.appid})


async def test_one_token_is_fetched_stored_sealed_and_shared(wx: Fixture) -> None:
    first = wx.stack()
    for _ in range(3):
        assert (await first.client.user_info(wx.appid, "o_alice"))["openid"] == "o_alice"
    await asyncio.gather(*(first.client.user_info(wx.appid, "o_alice") for _ in range(10)))
    assert len(wx.calls(TOKEN)) == 1

    doc = await wx.mongo[CONTROL_DB][TOKENS].find_one({"_id": wx.appid})
    assert doc is not None
    [issued] = wx.fake.issued(wx.appid)
    assert doc["token"].startswith("v1:")
    assert issued not in str(doc)
    assert box().open(doc["token"], f"token:{wx.appid}") == issued
    assert doc["generation"] == 1
    assert doc["expires_at"] - doc["fetched_at"] == timedelta(seconds=7200)

    second = wx.stack()  # another process: an empty cache, the same database
    await asyncio.gather(*(second.client.user_info(wx.appid, "o_bob") for _ in range(5)))
    assert len(wx.calls(TOKEN)) == 1
    assert len(wx.calls(INFO)) == 18

    name = "wxp_wechat_api_calls_total"
    assert first.sample(name, endpoint=INFO, outcome="ok") == 13
    assert first.sample("wxp_wechat_token_refreshes_total", outcome="ok") == 1
    assert second.sample("wxp_wechat_token_refreshes_total", outcome="ok") == 0
    labels = {k for m in first.registry.collect() for s in m.samples for k in s.labels}
    assert labels <= {"endpoint", "outcome", "reason", "le"}


async def test_a_refused_token_is_refreshed_once_and_each_call_retried_once(wx: Fixture) -> None:
    one, two = wx.stack(), wx.stack()
    await one.client.user_info(wx.appid, "o_alice")
    await two.client.user_info(wx.appid, "o_alice")
    before = len(wx.calls(INFO))
    wx.fake.revoke(wx.appid)  # as if something else had refreshed it long ago

    answers = await asyncio.gather(
        *(stack.client.user_info(wx.appid, "o_alice") for stack in (one, two) for _ in range(8))
    )

    assert all(a["openid"] == "o_alice" for a in answers)
    assert len(wx.calls(TOKEN)) == 2
    after = wx.fake.calls(INFO, wx.appid)[before:]
    assert sorted(c.errcode for c in after) == [0] * 16 + [40001] * 16
    assert one.sample("wxp_wechat_api_retries_total", endpoint=INFO, reason="token") == 8
    assert two.sample("wxp_wechat_api_retries_total", endpoint=INFO, reason="token") == 8
    doc = await wx.mongo[CONTROL_DB][TOKENS].find_one({"_id": wx.appid})
    assert doc is not None
    assert doc["generation"] == 2


async def test_server_errors_are_retried_with_jittered_backoff(wx: Fixture) -> None:
    stack = wx.stack(retry=RetryPolicy(attempts=3, base=0.1, cap=1.0), rand=lambda: 0.999)
    wx.fake.add_fault(Fault(INFO, status=500, times=2, appid=wx.appid))

    assert (await stack.client.user_info(wx.appid, "o_alice"))["subscribe"] == 1

    tries = wx.fake.calls(INFO, wx.appid)
    assert [c.status for c in tries] == [500, 500, 200]
    assert tries[1].at - tries[0].at >= 0.09
    assert tries[2].at - tries[1].at >= 0.19
    assert stack.sample("wxp_wechat_api_retries_total", endpoint=INFO, reason="transient") == 2
    assert stack.sample("wxp_wechat_api_calls_total", endpoint=INFO, outcome="transient") == 2


async def test_a_send_that_may_have_been_delivered_is_not_repeated(wx: Fixture) -> None:
    stack = wx.stack()
    message = {"touser": "o_alice", "msgtype": "text", "text": {"content": "你好"}}
    wx.fake.add_fault(Fault(SEND, status=500, times=1, appid=wx.appid))
    with pytest.raises(Transient) as caught:
        await stack.client.send_custom_message(wx.appid, message)
    assert caught.value.maybe_delivered
    assert len(wx.calls(SEND)) == 1

    wx.fake.add_fault(Fault(SEND, errcode=-1, times=1, appid=wx.appid))  # busy: not sent
    assert (await stack.client.send_custom_message(wx.appid, message))["errcode"] == 0
    sends = wx.fake.calls(SEND, wx.appid)
    assert [c.errcode for c in sends] == [0, -1, 0]
    assert sends[-1].body["text"]["content"] == "你好"  # sent as UTF-8, not \\u escapes


async def test_persistent_errors_raise_their_type_without_retrying(wx: Fixture) -> None:
    client = wx.stack().client
    text = {"msgtype": "text", "text": {"content": "hi"}}
    with pytest.raises(OutOfWindow):
        await client.send_custom_message(wx.appid, {"touser": "o_bob", **text})
    with pytest.raises(NotFollowing):
        await client.send_custom_message(wx.appid, {"touser": "o_stranger", **text})
    with pytest.raises(WeChatError) as caught:
        await client.send_custom_message(wx.appid, {"touser": "o_alice", "msgtype": "text"})
    assert caught.value.errcode == 40008
    wx.fake.add_fault(Fault(SEND, errcode=40007, appid=wx.appid))
    with pytest.raises(InvalidMedia):
        await client.send_custom_message(wx.appid, {"touser": "o_alice", **text})
    assert len(wx.calls(SEND)) == 4

    wx.fake.add_fault(Fault("/cgi-bin/tags/get", errcode=45009, appid=wx.appid))
    with pytest.raises(RateLimited):
        await client.get_tags(wx.appid)
    assert len(wx.calls("/cgi-bin/tags/get")) == 1


async def test_a_wrong_secret_is_a_credential_error_and_calls_nothing(wx: Fixture) -> None:
    with pytest.raises(InvalidCredential) as caught:
        await wx.stack(secret="not-the-secret").client.get_tags(wx.appid)
    assert caught.value.errcode == 40125
    assert [c.errcode for c in wx.calls(TOKEN)] == [40125]
    assert wx.calls("/cgi-bin/tags/get") == []
    assert await wx.mongo[CONTROL_DB][LEASES].find_one({"_id": wx.appid}) is None


async def test_latency_beyond_the_timeout_is_transient_after_bounded_retries(
    wx: Fixture,
) -> None:
    stack = wx.stack(timeout=0.15, retry=RetryPolicy(attempts=3, base=0.01, cap=0.02))
    await stack.client.get_tags(wx.appid)  # the token first, so only user/info is slow
    wx.fake.add_fault(Fault(INFO, delay=0.5, appid=wx.appid))

    started = time.monotonic()
    with pytest.raises(Transient) as caught:
        await stack.client.user_info(wx.appid, "o_alice")

    assert caught.value.errmsg == "timeout"
    assert time.monotonic() - started < 1.0
    assert len(wx.calls(INFO)) == 3


async def test_the_other_endpoints_speak_wechats_shapes(wx: Fixture) -> None:
    client = wx.stack().client
    created = await client.create_tag(wx.appid, "广东")
    assert created["tag"]["name"] == "广东"
    assert created["tag"]["id"] >= 100
    assert "广东" in [t["name"] for t in (await client.get_tags(wx.appid))["tags"]]
    news = {"msgtype": "mpnews", "mpnews": {"media_id": "m1"}, "send_ignore_reprint": 0}
    tag_id = created["tag"]["id"]
    by_tag = await client.mass_send_by_tag(wx.appid, {"filter": {"tag_id": tag_id}, **news})
    assert by_tag["msg_id"] > 0
    to_openids = {"touser": ["o_alice", "o_bob"], "clientmsgid": "run-1", **news}
    assert (await client.mass_send_to_openids(wx.appid, to_openids))["msg_id"] > 0
    assert (await client.mass_preview(wx.appid, {"touser": "o_alice", **news}))["msg_id"] > 0
    paths = [c.path for c in wx.fake.calls(appid=wx.appid) if c.path != TOKEN]
    assert paths == [
        "/cgi-bin/tags/create",
        "/cgi-bin/tags/get",
        "/cgi-bin/message/mass/sendall",
        "/cgi-bin/message/mass/send",
        "/cgi-bin/message/mass/preview",
    ]


async def test_an_abandoned_lease_is_retaken(wx: Fixture) -> None:
    leases = wx.mongo[CONTROL_DB][LEASES]
    long_ago = datetime.now(UTC) - timedelta(seconds=120)
    await leases.insert_one({"_id": wx.appid, "owner": "crashed", "at": long_ago})

    assert (await wx.stack().client.get_tags(wx.appid))["tags"]
    assert len(wx.calls(TOKEN)) == 1
    assert await leases.find_one({"_id": wx.appid}) is None


async def test_a_live_lease_without_a_token_makes_callers_wait_bounded(wx: Fixture) -> None:
    leases = wx.mongo[CONTROL_DB][LEASES]
    await leases.insert_one({"_id": wx.appid, "owner": "busy", "at": datetime.now(UTC)})
    stack = wx.stack(policy=TokenPolicy(wait_seconds=0.3, poll_seconds=0.02))

    started = time.monotonic()
    with pytest.raises(Transient):
        await stack.client.get_tags(wx.appid)
    assert 0.3 <= time.monotonic() - started < 2.0
    assert wx.calls(TOKEN) == []


async def test_secrets_and_tokens_never_reach_the_logs(
    wx: Fixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidCredential):
        await wx.stack(secret="wrong-" + wx.secret).client.user_info(wx.appid, "o_alice")
    stack = wx.stack()
    await stack.client.user_info(wx.appid, "o_alice")
    wx.fake.revoke(wx.appid)
    wx.fake.add_fault(Fault(INFO, status=502, times=1, appid=wx.appid))
    await stack.client.user_info(wx.appid, "o_alice")
    with pytest.raises(OutOfWindow):
        await stack.client.send_custom_message(
            wx.appid, {"touser": "o_bob", "msgtype": "text", "text": {"content": "x"}}
        )

    issued = wx.fake.issued(wx.appid)
    assert len(issued) == 2
    ours = [r for r in caplog.records if r.name.startswith("shared.wechat")]
    assert any(wx.appid in r.getMessage() for r in ours)  # the logs do say what happened
    assert any("refreshed" in r.getMessage() for r in ours)
    everything = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for secret in (wx.secret, *issued):
        assert secret not in everything
