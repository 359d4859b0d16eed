"""``wxp simulate``: play the WeChat server against a running gateway."""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse
from typing import Any

from defusedxml.ElementTree import fromstring

from shared.cli.http import Api, CliError, request
from shared.wechat.samples import SAMPLES, build_xml
from shared.wechat.simulator import Account, ReplyCheckError, open_reply, sign_request


def _account(args: argparse.Namespace) -> Account:
    if args.credentials:
        with open(args.credentials, encoding="utf-8") as handle:
            saved = json.load(handle)
        return Account(
            tenant_id=saved["id"],
            appid=saved["appid"],
            token=saved["token"],
            encoding_aes_key=saved["encoding_aes_key"],
            encrypt_mode=args.mode or saved["encrypt_mode"],
        )
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
    signed = sign_request(account, xml, openid=args.openid)
    url = f"{api.base_url}/wx/{account.tenant_id}?{urllib.parse.urlencode(signed.query)}"
    started = time.perf_counter()
    status, body = request("POST", url, body=signed.body, content_type="text/xml")
    elapsed = (time.perf_counter() - started) * 1000
    print(
        f"POST /wx/{account.tenant_id} ({account.encrypt_mode} mode, {args.type}) -> {status} "
        f"in {elapsed:.0f} ms"
    )
    if status != 200:
        raise CliError(body.decode(errors="replace"))
    try:
        plain = open_reply(account, body, encrypted=signed.encrypted)
    except (ReplyCheckError, ValueError) as exc:
        raise CliError(f"answer does not verify: {exc}") from None
    if plain in (b"success", b""):
        print("answer: success (no passive reply)")
        return
    if signed.encrypted:
        print("answer: encrypted reply, signature verified")
    for element in fromstring(plain):
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
    sim.add_argument("--mode", choices=("plain", "compatible", "safe"))
    sim.add_argument("--content", help="text of a text message")
    sim.add_argument("--event-key", help="EventKey of an event")
    sim.add_argument("--openid", default="o_simulated_reader")
    sim.add_argument("--account", default="gh_simulated", help="ToUserName (the account's gh_ id)")
    sim.set_defaults(func=simulate)
