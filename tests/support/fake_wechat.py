"""A fake of the WeChat API endpoints the services call. TEST-ONLY: never deploy it.

It behaves like WeChat where our code depends on it: ``/cgi-bin/token`` checks the
appid and secret and issues a token that expires after ``expires_in`` seconds, and a new
token retires the previous ones after ``grace`` seconds (WeChat: about 5 minutes); API
endpoints check the token (40001 / 42001) and the payload's shape.

Mass sends (``message/mass/sendall|send|preview|delete|get``) follow WeChat's rules, kept
in :mod:`tests.support.fake_mass`: a ``clientmsgid`` repeated within 24 hours answers
45065 with the earlier ``msg_id``; ``sendall`` has a quota (subscription accounts 1 a
day, service accounts 4 a month, in the account's time zone by the ``wall`` clock: 45028);
60 mass-API calls a minute (45011); a list send needs 2 to 10,000 openids (40130,
40032); an unknown ``msg_id`` answers 9500001. An accepted job finishes ``finish_delay``
seconds later: ``mass/get`` says SEND_SUCCESS (or SEND_FAIL when the account's
``finish_status`` is not "send success"), and when the account has a webhook a signed,
encrypted MASSSENDJOBFINISH event is posted to it (3 attempts) unless ``finish_event``
is false. ``finish_delay`` counts on the fake's ``clock`` for ``mass/get`` and in real
seconds for the event.

Parametric QR codes (``qrcode/create``) and user analytics (``/datacube/getusersummary``,
``/datacube/getusercumulate``) follow WeChat's rules, kept in
:mod:`tests.support.fake_datacube`: temporary codes live 60 s to 30 days (30 s when
unsaid; else 40035), permanent ones never expire and an account has at most
``permanent_qrcode_limit`` of them (WeChat: 100,000; 45029); a scene out of bounds
answers 40053, an unknown ``action_name`` 40052. Analytics spans at most 7 days and ends
on a day whose data is ready, yesterday from 08:00 Beijing time by the ``wall`` clock
(61501; a date not ``YYYY-MM-DD``: 61500), and answers the fixtures a test set, zeros
for other days.

Test-only admin endpoints: ``POST /_fake/accounts`` ({appid, secret, followers?,
out_of_window?, account_type?: service | subscription, timezone?, webhook_url?, token?,
encoding_aes_key?, original_id?, encrypt_mode?, finish_delay?, finish_status?,
finish_event?}; registering an appid again replaces the account, not its jobs),
``GET|DELETE /_fake/calls``, ``POST|DELETE /_fake/faults`` ({path, errcode? | status? |
delay?, times?, appid?, after?}: with ``after`` the call is handled first, a mass send
accepted, and then the fake waits ``delay`` and answers the injected error, if any, or
the real answer: a client that gives up or dies has really sent), ``POST /_fake/revoke``
({appid}), ``GET /_fake/mass_jobs`` (?appid=: the accepted mass sends), ``GET
/_fake/qrcodes`` (?appid=: the created QR codes), ``POST /_fake/datacube`` ({appid, days:
{"YYYY-MM-DD": {sources?: {user_source: [new_user, cancel_user]}, cumulate?}}}: added to
the account's analytics fixtures).

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

from tests.support.fake_datacube import (
    PERMANENT_LIMIT,
    Datacube,
    QrBook,
    QrCode,
    Refused,
    days_from_json,
)
from tests.support.fake_mass import (
    DEFAULT_AUDIENCE,
    SEND_SUCCESS,
    Courier,
    MassJob,
    MassLedger,
    Webhook,
    check_quota_rule,
)

Json = dict[str, Any]
API = "/cgi-bin"
CUSTOM_TYPES = {"text", "image", "voice", "video", "music", "news", "mpnews", "msgmenu", "wxcard"}
MASS_TYPES = {"text", "image", "voice", "mpvideo", "mpnews", "wxcard"}
MEDIA_TYPES = {"image", "voice", "video", "mpvideo", "mpnews"}
ROOT = Path(__file__).resolve().parents[2]  # where `python -m tests.support.fake_wechat` runs
MASS = f"{API}/message/mass"
DATACUBE = "/datacube"
MSG_NOT_FOUND = 9500001  # the fake's answer to an unknown msg_id (WeChat documents none)


class Refusal(Exception):
    """WeChat's ``{"errcode": N, "errmsg": ...}`` answer; ``extra`` fields go with it."""

    def __init__(self, errcode: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errcode, errmsg)
        self.errcode, self.errmsg, self.extra = errcode, errmsg, extra


@dataclass
class Account:
    appid: str
    secret: str
    followers: frozenset[str] | None = None  # None: every openid follows
    out_of_window: frozenset[str] = frozenset()  # readers silent for over 48 h
    tags: dict[str, int] = field(default_factory=dict)
    account_type: str = "service"  # or "subscription": the sendall quota
    timezone: str = "Asia/Shanghai"  # where the quota's days and months begin
    webhook: Webhook | None = None  # where MASSSENDJOBFINISH events go
    finish_delay: float = 1.0  # seconds from accepting a mass send to its end
    finish_status: str = SEND_SUCCESS  # or a failure such as "err(10001)"
    finish_event: bool = True  # False: no event is posted (the scheduler must ask mass/get)

    def __post_init__(self) -> None:
        check_quota_rule(self.account_type, self.timezone)


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
    after: bool = False  # handle the call first (a mass send is accepted), then delay and answer


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
        wall: Callable[[], float] = time.time,
        permanent_qrcode_limit: int = PERMANENT_LIMIT,
    ) -> None:
        self.expires_in = expires_in
        self.grace = grace
        self.clock = clock  # token lifetimes, clientmsgid memory, minute limit, job ends
        self.wall = wall  # the quota's calendar, the events' CreateTime, analytics' days
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.faults: list[Fault] = []
        self.log: list[Call] = []
        self.mass = MassLedger()
        self.qr = QrBook(permanent_qrcode_limit)
        self.datacube = Datacube()
        self._courier: Courier | None = None  # while the app runs
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

    def accepted(self, appid: str | None = None) -> list[MassJob]:
        """The mass sends (``sendall`` and ``send``) WeChat took, oldest first."""
        return self.mass.accepted(appid)

    def qrcodes(self, appid: str | None = None) -> list[QrCode]:
        """The QR codes ``qrcode/create`` made, oldest first (a permanent one once)."""
        return self.qr.created(appid)

    def set_datacube(self, appid: str, days: Json) -> None:
        """Adds analytics fixtures, as ``POST /_fake/datacube`` takes them (ValueError or
        TypeError when they are not of that form)."""
        self.datacube.set_days(appid, days_from_json(days))

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
        self.minute_quota(account)
        target = body.get("filter")
        if not isinstance(target, dict) or not (target.get("is_to_all") or "tag_id" in target):
            raise Refusal(40035, "invalid parameter: filter needs is_to_all or tag_id")
        message_body(body, MASS_TYPES, images=True)
        audience = DEFAULT_AUDIENCE if account.followers is None else len(account.followers)
        if target.get("is_to_all"):
            return self.accept(account, body, "all", audience, audience)
        tag_id = target["tag_id"]
        tag = tag_id if isinstance(tag_id, int) else None
        return self.accept(account, body, "tag", audience, audience, tag)

    def mass_send(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        self.minute_quota(account)
        openids = body.get("touser")
        if not isinstance(openids, list) or len(openids) > 10000:
            raise Refusal(40032, "invalid openid list size")
        if len(openids) < 2:
            raise Refusal(40130, "invalid openid list size, at least two openid")
        if not all(isinstance(o, str) and o for o in openids):
            raise Refusal(40031, "invalid openid list")
        message_body(body, MASS_TYPES, images=True)
        following = {o for o in openids if account.followers is None or o in account.followers}
        return self.accept(account, body, "openids", len(openids), len(following))

    def mass_preview(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        self.minute_quota(account)
        if "towxname" not in body:
            self.follower(account, body.get("touser"))
        message_body(body, MASS_TYPES)
        return {"errcode": 0, "errmsg": "preview success", "msg_id": self.next_id()}

    def mass_delete(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        self.minute_quota(account)
        job = self.mass_job(account, body)
        article = body.get("article_idx", 0)
        if not isinstance(article, int) or article < 0:
            raise Refusal(40035, "invalid parameter: article_idx")
        if article == 0:  # the whole send; 1, 2, ... one article of it
            job.deleted = True
        else:
            job.deleted_articles.append(article)
        return {"errcode": 0, "errmsg": "ok"}

    def mass_get(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        self.minute_quota(account)
        job = self.mass_job(account, body)
        return {"msg_id": job.msg_id, "msg_status": job.status(self.clock())}

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

    def qrcode_create(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        return self.qr.create(account.appid, body, self.wall()).answer()

    def user_summary(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        return self.datacube.summary(account.appid, body, self.wall())

    def user_cumulate(self, account: Account, body: Json, _: dict[str, str]) -> Json:
        return self.datacube.cumulate(account.appid, body, self.wall())

    def minute_quota(self, account: Account) -> None:
        if not self.mass.admit_call(account.appid, self.clock()):
            raise Refusal(45011, "api minute-quota reach limit")

    def mass_job(self, account: Account, body: Json) -> MassJob:
        msg_id = body.get("msg_id")
        if isinstance(msg_id, str) and msg_id.isascii() and msg_id.isdigit():
            msg_id = int(msg_id)
        job = self.mass.job(account.appid, msg_id) if isinstance(msg_id, int) else None
        if job is None:
            raise Refusal(MSG_NOT_FOUND, "msg_id not found")
        return job

    def accept(
        self,
        account: Account,
        body: Json,
        target: str,
        total: int,
        filtered: int,
        tag_id: int | None = None,
    ) -> Json:
        """A checked ``sendall`` or ``send``: refused as a repeat or over quota, or taken."""
        clientmsgid = body.get("clientmsgid")
        if clientmsgid is not None and (
            not isinstance(clientmsgid, str) or not 0 < len(clientmsgid.encode()) <= 64
        ):
            raise Refusal(40035, "invalid parameter: clientmsgid")
        if body.get("send_ignore_reprint", 0) not in (0, 1):
            raise Refusal(40035, "invalid parameter: send_ignore_reprint")
        now, wall = self.clock(), self.wall()
        earlier = (
            None if clientmsgid is None else self.mass.earlier(account.appid, clientmsgid, now)
        )
        if earlier is not None:
            raise Refusal(45065, "clientmsgid exist", msg_id=earlier.msg_id)
        quota = (account.appid, account.account_type, account.timezone, wall)
        if target != "openids" and not self.mass.quota_left(*quota):
            raise Refusal(45028, "has no masssend quota")
        job = MassJob(
            msg_id=self.next_id(),
            appid=account.appid,
            target=target,
            msgtype=str(body["msgtype"]),
            total=total,
            filtered=filtered,
            accepted_at=now,
            accepted_wall=wall,
            finish_at=now + account.finish_delay,
            finish_status=account.finish_status,
            tag_id=tag_id,
            clientmsgid=clientmsgid,
        )
        self.mass.record(job)
        self.announce(account, job)
        return {
            "errcode": 0,
            "errmsg": "send job submission success",
            "msg_id": job.msg_id,
            "msg_data_id": job.msg_id,
        }

    def announce(self, account: Account, job: MassJob) -> None:
        """Posts the job's MASSSENDJOBFINISH event when it ends, if the account has a webhook."""
        if account.webhook is None:
            return
        if not account.finish_event:
            job.callback = "suppressed"
            return
        if self._courier is None:
            raise RuntimeError("the fake WeChat's app is not running")
        self._courier.post_later(job, account.webhook, account.finish_delay)

    def next_id(self) -> int:
        self._serial += 1
        return 1000000000 + self._serial

    # -- HTTP -----------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        endpoints = {
            ("GET", f"{API}/token"): None,
            ("POST", f"{API}/message/custom/send"): self.custom_send,
            ("POST", f"{MASS}/sendall"): self.mass_sendall,
            ("POST", f"{MASS}/send"): self.mass_send,
            ("POST", f"{MASS}/preview"): self.mass_preview,
            ("POST", f"{MASS}/delete"): self.mass_delete,
            ("POST", f"{MASS}/get"): self.mass_get,
            ("GET", f"{API}/user/info"): self.user_info,
            ("GET", f"{API}/tags/get"): self.tags_get,
            ("POST", f"{API}/tags/create"): self.tags_create,
            ("POST", f"{API}/qrcode/create"): self.qrcode_create,
            ("POST", f"{DATACUBE}/getusersummary"): self.user_summary,
            ("POST", f"{DATACUBE}/getusercumulate"): self.user_cumulate,
        }
        for (method, path), endpoint in endpoints.items():
            app.router.add_route(method, path, self._handler(endpoint))
        app.router.add_post("/_fake/accounts", self._register)
        app.router.add_get("/_fake/calls", self._calls)
        app.router.add_delete("/_fake/calls", self._reset_calls)
        app.router.add_post("/_fake/faults", self._add_fault)
        app.router.add_delete("/_fake/faults", self._clear_faults)
        app.router.add_post("/_fake/revoke", self._revoke)
        app.router.add_get("/_fake/mass_jobs", self._mass_jobs)
        app.router.add_get("/_fake/qrcodes", self._qrcodes)
        app.router.add_post("/_fake/datacube", self._set_datacube)
        app.cleanup_ctx.append(self._posting)
        return app

    async def _posting(self, _: web.Application) -> AsyncIterator[None]:
        """The courier of the finish events, for as long as the app runs."""
        async with ClientSession() as http:
            self._courier = Courier(http, wall=lambda: self.wall())  # a test may swap self.wall
            try:
                yield
            finally:
                await self._courier.close()
                self._courier = None

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
            fault = self._fault(request.path, appid)
            if fault is None:
                return self._answer(endpoint, request.method, params, raw, call)
            handled = None
            if fault.after:  # handled now: a client that gives up in the delay has still sent
                handled = self._answer(endpoint, request.method, params, raw, call)
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                call.status = fault.status
                return web.Response(status=fault.status, text="fake server error")
            if fault.errcode is not None:
                call.errcode = fault.errcode
                return answer_json({"errcode": fault.errcode, "errmsg": "injected fault"})
            if handled is None:
                handled = self._answer(endpoint, request.method, params, raw, call)
            return handled

        return handle

    def _answer(
        self,
        endpoint: Endpoint | None,
        method: str,
        params: dict[str, str],
        raw: bytes,
        call: Call,
    ) -> web.Response:
        try:
            if endpoint is None:
                answer = self.issue(params)
                call.token_serial = self._serial
                return answer_json(answer)
            account = self.accounts[self.check_token(params.get("access_token")).appid]
            body = json_body(raw) if method == "POST" else {}
            return answer_json(endpoint(account, body, params))
        except (Refusal, Refused) as refusal:  # Refused: the analytics rules' own refusals
            call.errcode = refusal.errcode
            answer = {"errcode": refusal.errcode, "errmsg": refusal.errmsg, **refusal.extra}
            return answer_json(answer)

    def _fault(self, path: str, appid: str | None) -> Fault | None:
        for fault in self.faults:
            if fault.path == path and fault.appid in (None, appid) and fault.times != 0:
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    async def _register(self, request: web.Request) -> web.Response:
        try:
            account = account_from_json(await request.json())
        except (KeyError, TypeError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            return web.json_response({"ok": False, "error": repr(exc)}, status=400)
        self.register(account)
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

    async def _mass_jobs(self, request: web.Request) -> web.Response:
        now = self.clock()
        return answer_json([job.as_json(now) for job in self.accepted(request.query.get("appid"))])

    async def _qrcodes(self, request: web.Request) -> web.Response:
        return answer_json([code.as_json() for code in self.qrcodes(request.query.get("appid"))])

    async def _set_datacube(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            self.set_datacube(data["appid"], data["days"])
        except (KeyError, TypeError, ValueError) as exc:
            return web.json_response({"ok": False, "error": repr(exc)}, status=400)
        return web.json_response({"ok": True})


Endpoint = Callable[[Account, Json, dict[str, str]], Json]
Handler = Callable[[web.Request], Any]


def account_from_json(data: Json) -> Account:
    """An account as ``POST /_fake/accounts`` describes it (webhook fields flat)."""
    followers = data.get("followers")
    webhook = None
    if data.get("webhook_url"):
        webhook = Webhook(
            url=data["webhook_url"],
            token=data["token"],
            encoding_aes_key=data["encoding_aes_key"],
            original_id=data["original_id"],
            encrypt_mode=data.get("encrypt_mode", "safe"),
        )
    return Account(
        appid=data["appid"],
        secret=data["secret"],
        followers=None if followers is None else frozenset(followers),
        out_of_window=frozenset(data.get("out_of_window", ())),
        account_type=data.get("account_type", "service"),
        timezone=data.get("timezone", "Asia/Shanghai"),
        webhook=webhook,
        finish_delay=float(data.get("finish_delay", 1.0)),
        finish_status=data.get("finish_status", SEND_SUCCESS),
        finish_event=bool(data.get("finish_event", True)),
    )


def message_body(body: Json, allowed: set[str], *, images: bool = False) -> None:
    """WeChat's rule: ``msgtype`` names a known type and a same-named object carries it;
    with ``images`` (``sendall`` and ``send``) an image goes as ``images``: {media_ids}."""
    msgtype = body.get("msgtype")
    key = "images" if images and msgtype == "image" else msgtype
    content = body.get(key) if isinstance(key, str) else None
    if msgtype not in allowed or not isinstance(content, dict):
        raise Refusal(40008, "invalid message type")
    if msgtype == "text" and not content.get("content"):
        raise Refusal(44004, "empty content")
    if key == "images":
        ids = content.get("media_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise Refusal(41006, "media_id missing")
    elif msgtype in MEDIA_TYPES and not content.get("media_id"):
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


def answer_json(data: Json | list[Json]) -> web.Response:
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

    async def mass_jobs(self, appid: str | None = None) -> list[Json]:
        """The accepted mass sends, each with its ``status`` as mass/get would say it."""
        query = {} if appid is None else {"appid": appid}
        async with self.http.get(f"{self.base}/_fake/mass_jobs", params=query) as response:
            response.raise_for_status()
            found: list[Json] = await response.json()
            return found

    async def qrcodes(self, appid: str | None = None) -> list[Json]:
        """The created QR codes, each with ``permanent`` and ``expires_at`` (wall clock)."""
        query = {} if appid is None else {"appid": appid}
        async with self.http.get(f"{self.base}/_fake/qrcodes", params=query) as response:
            response.raise_for_status()
            found: list[Json] = await response.json()
            return found

    async def set_datacube(self, appid: str, days: Json) -> None:
        """Adds analytics fixtures: {"YYYY-MM-DD": {"sources": {"30": [new, cancel]},
        "cumulate": n}}."""
        await self._send("POST", "/_fake/datacube", {"appid": appid, "days": days})

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
