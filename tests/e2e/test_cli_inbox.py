"""`wxp inbox` as an operator runs it: the console script against a gateway, a replies
service and the fake WeChat as processes. A reader's message no rule answers comes in
through the gateway; the operator lists it, answers it (one customer-service message
reaches the fake), closes another; a reply file that is missing or not JSON, a bad key or
a service out of reach gives one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from shared.wechat.simulator import Account
from tests.e2e.test_cli import wxp
from tests.support.bus import eventually
from tests.support.fake_wechat import FakeAdmin, running_fake
from tests.support.gateway import send
from tests.support.processes import ServiceProcess

CS_SEND = "/cgi-bin/message/custom/send"


@dataclass
class Desk:
    """``wxp`` pointed at the stack (WXP_URL the gateway, WXP_REPLIES_URL replies), about
    one tenant, and the reader's side: the gateway and the fake WeChat."""

    http: ClientSession
    gateway: str
    account: Account
    fake: FakeAdmin

    async def wxp(self, *args: str) -> tuple[int, str, str]:
        return await wxp(*args, "--tenant", self.account.tenant_id, url=self.gateway)

    async def ok(self, *args: str) -> str:
        code, out, err = await self.wxp(*args)
        assert code == 0, err
        assert err == ""
        return out

    async def ok_json(self, *args: str) -> Any:
        return json.loads(await self.ok(*args, "--json"))

    async def message(self, openid: str, content: str) -> str:
        """A reader's text through the gateway: its id, once the inbox lists it."""
        text = {"Content": content}
        answer = await send(
            self.http, self.gateway, self.account, "text", openid=openid, overrides=text
        )
        assert answer.status == 200
        ids: list[str] = []

        async def listed() -> bool:
            items = (await self.ok_json("inbox", "list"))["items"]
            ids[:] = [i["id"] for i in items if i["message"].get("content") == content]
            return bool(ids)

        await eventually(listed, 20, f"{content!r} in the inbox")
        return ids[0]

    async def sent_to(self, openid: str) -> list[Any]:
        calls = await self.fake.calls(CS_SEND, self.account.appid)
        return [c["body"] for c in calls if c["body"].get("touser") == openid]


@pytest.fixture
async def desk(
    services: Callable[..., Awaitable[ServiceProcess]],
    onboarded: Callable[..., Awaitable[tuple[dict[str, Any], Account]]],
    http: ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Desk]:
    async with running_fake() as wechat:
        gateway = await services("gateway")
        replies = await services("replies", WECHAT_API_BASE=wechat)
        _, account = await onboarded(
            gateway.url, name="CLI inbox", encrypt_mode="plain", app_secret="inbox-secret"
        )
        fake = FakeAdmin(http, wechat)
        await fake.register(account.appid, "inbox-secret")
        monkeypatch.setenv("WXP_REPLIES_URL", replies.url)
        monkeypatch.delenv("WXP_DEBUG", raising=False)
        yield Desk(http, gateway.url, account, fake)


async def test_list_reply_and_close_from_the_command_line(desk: Desk, tmp_path: Path) -> None:
    asked = await desk.message("o_cli", "几点开门?")
    spam = await desk.message("o_spam", "cheap followers")

    header, *rows = (await desk.ok("inbox", "list")).splitlines()
    assert header.split() == [
        *("ID", "RECEIVED_AT", "OPENID", "TYPE", "WINDOW_LEFT", "STATUS", "MESSAGE")
    ]
    assert [row.split()[0] for row in rows] == [spam, asked]  # newest first
    cells = rows[1].split()
    assert cells[2:6] == ["o_cli", "msg.text", cells[4], "open"]
    assert cells[4] in ("47h59m", "48h00m")
    assert rows[1].rstrip().endswith("几点开门?")

    out = await desk.ok("inbox", "reply", asked, "--text", "九点 {openid}", "--note", "by phone")
    assert out.splitlines()[0] == f"Answered {asked}."
    assert "status       answered" in out
    assert "answered_by  the admin key" in out
    assert "note         by phone" in out
    expected = {"touser": "o_cli", "msgtype": "text", "text": {"content": "九点 o_cli"}}
    assert await desk.sent_to("o_cli") == [expected]

    code, out, err = await desk.wxp("inbox", "reply", asked, "--text", "again")
    assert code == 1
    assert out == ""
    assert err.startswith("wxp: 409 not_open:")
    assert len(err.splitlines()) == 1

    closed = await desk.ok_json("inbox", "close", spam, "--note", "spam")
    assert (closed["status"], closed["note"]) == ("closed", "spam")
    assert (await desk.ok_json("inbox", "list"))["items"] == []
    listed = await desk.ok_json("inbox", "list", "--status", "all", "--limit", "1")
    assert [i["id"] for i in listed["items"]] == [spam]
    assert listed["next_before"] == spam
    more = await desk.ok("inbox", "list", "--status", "all", "--limit", "1", "--before", spam)
    assert asked in more

    reply_file = tmp_path / "reply.json"
    reply_file.write_text(json.dumps({"type": "image", "media_id": "M1"}), encoding="utf-8")
    third = await desk.message("o_file", "a picture please")
    answered = await desk.ok_json("inbox", "reply", third, "--file", str(reply_file))
    assert answered["reply"] == {"type": "image", "media_id": "M1"}
    assert len(await desk.sent_to("o_file")) == 1
    assert len(await desk.sent_to("o_cli")) == 1


BAD_FILES = [
    (None, "cannot read reply spec from"),
    ("{not json", "is not JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"type": "text"}', "422 invalid: reply.content"),
]


async def test_a_bad_reply_file_is_one_clear_line_and_sends_nothing(
    desk: Desk, tmp_path: Path
) -> None:
    event_id = await desk.message("o_bad", "are you there?")
    for n, (content, said) in enumerate(BAD_FILES):
        reply_file = tmp_path / f"reply{n}.json"
        if content is not None:
            reply_file.write_text(content, encoding="utf-8")

        code, out, err = await desk.wxp("inbox", "reply", event_id, "--file", str(reply_file))

        assert code == 1, said
        assert out == ""
        assert err.startswith("wxp: "), err
        assert said in err, err
        assert len(err.splitlines()) == 1, err
    assert await desk.sent_to("o_bad") == []
    [item] = (await desk.ok_json("inbox", "list"))["items"]
    assert (item["id"], item["status"]) == (event_id, "open")


async def test_a_bad_key_or_an_unreachable_service_is_one_clear_line(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = desk.account.tenant_id
    bad_key = f"wxp_{'0' * 12}_{'x' * 32}"
    code, out, err = await wxp("inbox", "list", "--tenant", tenant, url=desk.gateway, key=bad_key)
    assert (code, out) == (1, "")
    assert err == "wxp: 401 unauthorized: invalid API key\n"

    monkeypatch.setenv("WXP_REPLIES_URL", "http://127.0.0.1:9")
    code, out, err = await desk.wxp("inbox", "close", "0123456789abcdef")
    assert (code, out) == (1, "")
    assert err.startswith("wxp: cannot reach the replies service at http://127.0.0.1:9")
    assert len(err.splitlines()) == 1
