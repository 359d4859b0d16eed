"""A fake of the WeChat API endpoints the services call. TEST-ONLY: never deploy it.

It behaves like WeChat where our code depends on it: ``/cgi-bin/token`` checks the
appid and secret and issues a token that expires after ``expires_in`` seconds, and a new
token retires the previous ones after ``grace`` seconds (WeChat: about 5 minutes); API
endpoints check the token (40001 / 42001) and the payload's shape.

Test-only admin endpoints: ``POST /_fake/accounts`` ({appid, secret, followers?,
out_of_window?}), ``GET|DELETE /_fake/calls``, ``POST|DELETE /_fake/faults`` ({path,
errcode? | status? | delay?, times?, appid?}), ``POST /_fake/revoke`` ({appid}).

In-process: ``TestServer(FakeWeChat().app())``. As a process:
``python -m tests.support.fake_wechat --port N --expires-in 3 --grace 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

Json = dict[str, Any]
API = "/cgi-bin"
CUSTOM_TYPES = {"text", "image", "voice", "video", "music", "news", "mpnews", "msgmenu", "wxcard"}
MASS_TYPES = {"text", "image", "voice", "mpvideo", "mpnews", "wxcard"}
MEDIA_TYPES = {"image", "voice", "video", "mpvideo", "mpnews"}
ROOT = Path(__file__).resolve().parents[2]  # where `python -m tests.support.fake_wechat` runs


class Refusal(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode, self.errmsg = errcode, errmsg


@dataclass
class Account:
    appid: str
    secret: str
    followers: frozenset[str] | None = None  # None: every openid follows
    out_of_window: frozenset[str] = frozenset()  # readers silent for over 48 h
    tags: dict[str, int] = field(default_factory=dict)


@dataclass
class Token:
    serial: int
    appid: str
    expires_at: float
    retired_at: float | None = None  # when a newer token was issued (or revoked)


@dataclass
class Fault:
    path: str
    errcode: int | None = None
    status: int | None = None
    delay: float = 0.0
    times: int | None = None  # None: every matching call
    appid: str | None = None


@dataclass
class Call:
    method: str
    path: str
    appid: str | None
    params: dict[str, str]  # without access_token and secret
    body: Any
    at: float
    token_serial: int | None = None
    status: int = 200
    errcode: int = 0


class FakeWeChat:
    def __init__(
        self,
        *,
        expires_in: int = 7200,
        grace: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.expires_in = expires_in
        self.grace = grace
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.faults: list[Fault] = []
        self.log: list[Call] = []
        self._serial = 0

    # -- test controls --------------------------------------------------------------
    def register(self, account: Account) -> None:
        self.accounts[account.appid] = account

    def add_fault(self, fault: Fault) -> None:
        self.faults.append(fault)

    def revoke(self, appid: str) -> None:
        """Every token of ``appid`` stops working now (as when someone else refreshed)."""
        for token in self.tokens.values():
            if token.appid == appid:
                token.retired_at = self.clock() - self.grace

    def calls(self, path: str | None = None, appid: str | None = None) -> list[Call]:
        return [
            c
            for c in self.log
            if (path is None or c.path == path) and (appid is None or c.appid == appid)
        ]

    def issued(self, appid: str) -> list[str]:
        return [value for value, token in self.tokens.items() if token.appid == appid]

    # -- WeChat's behaviour ----------------------------------------------------------
    def issue(self, params: dict[str, str]) -> Json:
        if params.get("grant_type") != "client_credential":
            raise Refusal(40002, "invalid grant_type")
        account = self.accounts.get(params.get("appid", ""))
        if account is None:
            raise Refusal(40013, "invalid appid")
        if not secrets.compare_digest(params.get("secret", ""), account.secret):
            raise Refusal(40125, "invalid appsecret")
        now = self.clock()
        for token in self.tokens.values():
            if token.appid == account.appid and token.retired_at is None:
                token.retired_at = now
        self._serial += 1
        value = f"{self._serial}_{secrets.token_urlsafe(48)}"
        self.tokens[value] = Token(self._serial, account.appid, now + self.expires_in)
        return {"access_token": value, "expires_in": self.expires_in}

    def check_token(self, value: str | None) -> Token:
        if not value:
            raise Refusal(41001, "access_token missing")
        token = self.tokens.get(value)
        now = self.clock()
        if token is None or (token.retired_at is not None and now >= token.retired_at + self.grace):
            raise Refusal(40001, "invalid credential, access_token is invalid or not latest")
        if now >= token.expires_at:
            raise Refusal(42001, "access_token expired")
        return token

    def follower(self, account: Account, openid: object) -> str:
        if not isinstance(openid, str) or not openid:
            raise Refusal(40003, "invalid openid")
        if account.followers is not None and openid not in account.followers:
            raise Refusal(40003, "invalid openid")
        return openid

    def custom_send(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        openid = self.follower(account, body.get("touser"))
        message_body(body, CUSTOM_TYPES)
        if openid in account.out_of_window:
            raise Refusal(45015, "response out of time limit or subscription is canceled")
        return {"errcode": 0, "errmsg": "ok"}

    def mass_sendall(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        target = body.get("filter")
        if not isinstance(target, dict) or not (target.get("is_to_all") or "tag_id" in target):
            raise Refusal(40035, "invalid parameter: filter needs is_to_all or tag_id")
        message_body(body, MASS_TYPES)
        return self.mass_job()

    def mass_send(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        openids = body.get("touser")
        if not isinstance(openids, list) or not 1 <= len(openids) <= 10000:
            raise Refusal(40032, "invalid openid list size")
        if not all(isinstance(o, str) and o for o in openids):
            raise Refusal(40031, "invalid openid list")
        message_body(body, MASS_TYPES)
        return self.mass_job()

    def mass_preview(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        if "towxname" not in body:
            self.follower(account, body.get("touser"))
        message_body(body, MASS_TYPES)
        return {"errcode": 0, "errmsg": "preview success", "msg_id": self.next_id()}

    def user_info(self, account: Account, _: Json, params: dict[str, str]) -> Json:
        if not params.get("openid"):
            raise Refusal(41009, "missing openid")
        openid = self.follower(account, params["openid"])
        return {
            "subscribe": 1,
            "openid": openid,
            "language": params.get("lang", "zh_CN"),
            "subscribe_time": 1700000000,
            "remark": "",
            "groupid": 0,
            "tagid_list": [],
            "subscribe_scene": "ADD_SCENE_QR_CODE",
            "qr_scene": 0,
            "qr_scene_str": "",
        }

    def tags_get(self, account: Account, _: Json, __: dict[str, str]) -> Json:
        system = [{"id": 2, "name": "星标组", "count": 0}]
        mine = [{"id": i, "name": n, "count": 0} for n, i in account.tags.items()]
        return {"tags": system + mine}

    def tags_create(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        tag = body.get("tag")
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name or name in account.tags:
            raise Refusal(45157, "invalid tag name")
        if len(name.encode()) > 30:
            raise Refusal(45158, "tag name too long")
        if len(account.tags) >= 100:
            raise Refusal(45056, "too many tags")
        account.tags[name] = 100 + len(account.tags)
        return {"tag": {"id": account.tags[name], "name": name}}

    def mass_job(self) -> Json:
        msg_id = self.next_id()
        return {
            "errcode": 0,
            "errmsg": "send job submission success",
            "msg_id": msg_id,
            "msg_data_id": msg_id,
        }

    def next_id(self) -> int:
        self._serial += 1
        return 1000000000 + self._serial

    # -- HTTP -----------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        endpoints = {
            ("GET", f"{API}/token"): None,
            ("POST", f"{API}/message/custom/send"): self.custom_send,
            ("POST", f"{API}/message/mass/sendall"): self.mass_sendall,
            ("POST", f"{API}/message/mass/send"): self.mass_send,
            ("POST", f"{API}/message/mass/preview"): self.mass_preview,
            ("GET", f"{API}/user/info"): self.user_info,
            ("GET", f"{API}/tags/get"): self.tags_get,
            ("POST", f"{API}/tags/create"): self.tags_create,
        }
        for (method, path), endpoint in endpoints.items():
            app.router.add_route(method, path, self._handler(endpoint))
        app.router.add_post("/_fake/accounts", self._register)
        app.router.add_get("/_fake/calls", self._calls)
        app.router.add_delete("/_fake/calls", self._reset_calls)
        app.router.add_post("/_fake/faults", self._add_fault)
        app.router.add_delete("/_fake/faults", self._clear_faults)
        app.router.add_post("/_fake/revoke", self._revoke)
        return app

    def _handler(self, endpoint: Endpoint | None) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            params = dict(request.query)
            token = self.tokens.get(params.get("access_token", ""))
            appid = params.get("appid") if endpoint is None else (token.appid if token else None)
            raw = await request.read()
            call = Call(
                request.method,
                request.path,
                appid,
                redact(params),
                parse(raw),
                self.clock(),
                token.serial if token else None,
            )
            self.log.append(call)
            try:
                fault = await self._fault(request.path, appid)
                if fault is not None and fault.status is not None:
                    call.status = fault.status
                    return web.Response(status=fault.status, text="fake server error")
                if fault is not None and fault.errcode is not None:
                    raise Refusal(fault.errcode, "injected fault")
                if endpoint is None:
                    answer = self.issue(params)
                    call.token_serial = self._serial
                    return answer_json(answer)
                account = self.accounts[self.check_token(params.get("access_token")).appid]
                body = json_body(raw) if request.method == "POST" else {}
                return answer_json(endpoint(account, body, params))
            except Refusal as refusal:
                call.errcode = refusal.errcode
                return answer_json({"errcode": refusal.errcode, "errmsg": refusal.errmsg})

        return handle

    async def _fault(self, path: str, appid: str | None) -> Fault | None:
        for fault in self.faults:
            if fault.path == path and fault.appid in (None, appid) and fault.times != 0:
                if fault.times is not None:
                    fault.times -= 1
                await asyncio.sleep(fault.delay)
                return fault
        return None

    async def _register(self, request: web.Request) -> web.Response:
        data = await request.json()
        followers = data.get("followers")
        self.register(
            Account(
                appid=data["appid"],
                secret=data["secret"],
                followers=None if followers is None else frozenset(followers),
                out_of_window=frozenset(data.get("out_of_window", ())),
            )
        )
        return web.json_response({"ok": True})

    async def _calls(self, request: web.Request) -> web.Response:
        found = self.calls(request.query.get("path"), request.query.get("appid"))
        return web.json_response([asdict(c) for c in found])

    async def _reset_calls(self, _: web.Request) -> web.Response:
        self.log.clear()
        return web.json_response({"ok": True})

    async def _add_fault(self, request: web.Request) -> web.Response:
        self.add_fault(Fault(**await request.json()))
        return web.json_response({"ok": True})

    async def _clear_faults(self, _: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"ok": True})

    async def _revoke(self, request: web.Request) -> web.Response:
        self.revoke((await request.json())["appid"])
        return web.json_response({"ok": True})


Endpoint = Callable[[Account, Json, dict[str, str]], Json]
Handler = Callable[[web.Request], Any]


def message_body(body: Json, allowed: set[str]) -> None:
    """WeChat's rule: ``msgtype`` names a known type and a same-named object carries it."""
    msgtype = body.get("msgtype")
    content = body.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype not in allowed or not isinstance(content, dict):
        raise Refusal(40008, "invalid message type")
    if msgtype == "text" and not content.get("content"):
        raise Refusal(44004, "empty content")
    if msgtype in MEDIA_TYPES and not content.get("media_id"):
        raise Refusal(41006, "media_id missing")


def json_body(raw: bytes) -> Json:
    if not raw:
        raise Refusal(44002, "empty post data")
    if b"\\u" in raw:  # WeChat refuses \uXXXX escapes: JSON must be sent as UTF-8
        raise Refusal(40033, "invalid charset, \\uxxxx escapes are not allowed")
    body = parse(raw)
    if not isinstance(body, dict):
        raise Refusal(47001, "data format error")
    return body


def parse(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode()) if raw else None
    except ValueError:
        return None


def redact(params: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in ("access_token", "secret")}


def answer_json(data: Json) -> web.Response:
    return web.json_response(data, dumps=lambda d: json.dumps(d, ensure_ascii=False))


class FakeAdmin:
    """Drives a fake running in another process through its admin endpoints."""

    def __init__(self, http: ClientSession, base: str) -> None:
        self.http, self.base = http, base.rstrip("/")

    async def register(self, appid: str, secret: str, **extra: Any) -> None:
        await self._send("POST", "/_fake/accounts", {"appid": appid, "secret": secret, **extra})

    async def add_fault(self, **rule: Any) -> None:
        await self._send("POST", "/_fake/faults", rule)

    async def calls(self, path: str | None = None, appid: str | None = None) -> list[Json]:
        query = {k: v for k, v in (("path", path), ("appid", appid)) if v is not None}
        async with self.http.get(f"{self.base}/_fake/calls", params=query) as response:
            response.raise_for_status()
            found: list[Json] = await response.json()
            return found

    async def ready(self) -> bool:
        try:
            async with self.http.get(f"{self.base}/_fake/calls", params={"path": "-"}) as r:
                return r.status == 200
        except OSError:
            return False

    async def _send(self, method: str, path: str, data: Json) -> None:
        async with self.http.request(method, self.base + path, json=data) as response:
            response.raise_for_status()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake WeChat API (tests only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--expires-in", type=int, default=7200)
    parser.add_argument("--grace", type=float, default=300.0)
    args = parser.parse_args(argv)
    fake = FakeWeChat(expires_in=args.expires_in, grace=args.grace)
    web.run_app(fake.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()


@contextlib.asynccontextmanager
async def running_fake(*, expires_in: int = 7200, grace: float = 300.0) -> AsyncIterator[str]:
    """The fake as a process of its own on a free port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    argv = ["--port", str(port), "--expires-in", str(expires_in), "--grace", str(grace)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.fake_wechat",
        *argv,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    # Imported here, not at the top: the fake's own process has no use for the bus.
    from tests.support.bus import eventually

    try:
        async with ClientSession() as http:
            admin = FakeAdmin(http, base)

            async def started() -> bool:
                assert process.returncode is None, "the fake WeChat API exited"
                return await admin.ready()

            await eventually(started, timeout=15, what="the fake WeChat API answering")
        yield base
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
