"""``wxp simulate``: play the WeChat server against a running gateway."""

from __future__ import annotations

import argparse
import time
import urllib.parse
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml.ElementTree import fromstring

from shared.cli.files import read_json_object
from shared.cli.http import Api, CliError, api_path, request
from shared.wechat.crypto import CryptoError
from shared.wechat.samples import SAMPLES, build_xml
from shared.wechat.simulator import Account, ReplyCheckError, open_reply, sign_request

CREDENTIALS = ("id", "appid", "token", "encoding_aes_key")
MODES = ("plain", "compatible", "safe")


def _saved_account(path: str, mode: str | None) -> Account:
    """The account in the JSON that ``wxp tenants add --json`` printed."""
    saved = read_json_object(path, "credentials")
    wanted = (*CREDENTIALS, *(() if mode else ("encrypt_mode",)))
    missing = [name for name in wanted if not isinstance(saved.get(name), str)]
    if missing:
        raise CliError(
            f"credentials {path} lack {', '.join(missing)}: "
            "give the JSON that `wxp tenants add --json` prints"
        )
    encrypt_mode = mode or saved["encrypt_mode"]
    if encrypt_mode not in MODES:
        raise CliError(f"credentials {path}: encrypt_mode is one of {', '.join(MODES)}")
    return Account(
        tenant_id=saved["id"],
        appid=saved["appid"],
        token=saved["token"],
        encoding_aes_key=saved["encoding_aes_key"],
        encrypt_mode=encrypt_mode,
    )


def _account(args: argparse.Namespace) -> Account:
    if args.credentials:
        return _saved_account(args.credentials, args.mode)
    missing = [
        f"--{n.replace('_', '-')}" for n in ("tenant", "appid", "token") if not getattr(args, n)
    ]
    if missing:
        raise CliError(f"simulate needs --credentials FILE or {', '.join(missing)}")
    return Account(
        tenant_id=args.tenant,
        appid=args.appid,
        token=args.token,
        encoding_aes_key=args.aes_key or "",
        encrypt_mode=args.mode or "safe",
    )


def simulate(args: argparse.Namespace, api: Api) -> None:
    account = _account(args)
    overrides: dict[str, Any] = {}
    if args.content is not None:
        overrides["Content"] = args.content
    if args.event_key is not None:
        overrides["EventKey"] = args.event_key
    now = int(time.time())
    xml = build_xml(
        args.type, openid=args.openid, account=args.account, create_time=now, overrides=overrides
    )
    try:
        signed = sign_request(account, xml, openid=args.openid)
    except CryptoError as exc:
        raise CliError(f"cannot encrypt for {account.tenant_id}: {exc}") from None
    path = api_path("wx", account.tenant_id)
    url = f"{api.base_url}{path}?{urllib.parse.urlencode(signed.query)}"
    started = time.perf_counter()
    status, body = request("POST", url, body=signed.body, content_type="text/xml")
    elapsed = (time.perf_counter() - started) * 1000
    print(
        f"POST /wx/{account.tenant_id} ({account.encrypt_mode} mode, {args.type}) -> {status} "
        f"in {elapsed:.0f} ms"
    )
    if status != 200:
        raise CliError(f"{status}: {body.decode(errors='replace')[:300]}")
    try:
        plain = open_reply(account, body, encrypted=signed.encrypted)
    except (ReplyCheckError, ParseError, ValueError) as exc:
        raise CliError(f"answer does not verify: {exc}") from None
    if plain in (b"success", b""):
        print("answer: success (no passive reply)")
        return
    try:
        reply = fromstring(plain)
    except (ParseError, ValueError) as exc:  # ValueError: defusedxml's refusals
        raise CliError(f"the answer is not WeChat XML: {exc}") from None
    if signed.encrypted:
        print("answer: encrypted reply, signature verified")
    for element in reply:
        value = (
            element.text
            if len(element) == 0
            else "".join(
                f"\n    {child.tag}: {child.text or ''}"
                for child in element.iter()
                if child is not element
            )
        )
        print(f"  {element.tag}: {value}")


def add_parser(sub: Any) -> None:
    sim = sub.add_parser("simulate", help="play the WeChat server against the gateway")
    sim.add_argument("type", choices=sorted(SAMPLES), help="message type or event:NAME")
    sim.add_argument("--credentials", help="JSON printed by `wxp tenants add --json`")
    for flag in ("--tenant", "--appid", "--token", "--aes-key"):
        sim.add_argument(flag)
    sim.add_argument("--mode", choices=MODES)
    sim.add_argument("--content", help="text of a text message")
    sim.add_argument("--event-key", help="EventKey of an event")
    sim.add_argument("--openid", default="o_simulated_reader")
    sim.add_argument("--account", default="gh_simulated", help="ToUserName (the account's gh_ id)")
    sim.set_defaults(func=simulate)
