"""``wxp``: the operators' command line over the services' APIs.

Settings come from the environment: ``WXP_URL`` (the gateway, default
http://127.0.0.1:8080) and ``WXP_API_KEY`` (or ``WXP_ADMIN_KEY``). People get tables,
scripts get ``--json``; a failure exits non-zero with the server's error message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from defusedxml.ElementTree import fromstring

from shared.wechat_sim import SAMPLES, Account, ReplyCheckError, build_xml, open_reply, sign_request

TABLE_COLUMNS = ("id", "name", "appid", "account_type", "encrypt_mode", "timezone")


class CliError(Exception):
    pass


def _request(
    method: str,
    url: str,
    *,
    key: str | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach {url}: {exc.reason}") from None


def _api(method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    base = os.environ.get("WXP_URL", "http://127.0.0.1:8080").rstrip("/")
    key = os.environ.get("WXP_API_KEY") or os.environ.get("WXP_ADMIN_KEY")
    body = json.dumps(payload).encode() if payload is not None else None
    status, raw = _request(method, base + path, key=key, body=body)
    try:
        data = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        data = None
    if status >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        raise CliError(f"{status} {error.get('code', 'error')}: {error.get('message', raw[:200])}")
    return data


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = [max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True))
        for r in rows
    ]
    return "\n".join(lines)


def tenants_add(args: argparse.Namespace) -> None:
    payload = {
        k: v
        for k, v in {
            "id": args.id,
            "name": args.name,
            "appid": args.appid,
            "app_secret": args.app_secret,
            "account_type": args.account_type,
            "encrypt_mode": args.encrypt_mode,
            "token": args.token,
            "encoding_aes_key": args.aes_key,
            "timezone": args.timezone,
        }.items()
        if v is not None
    }
    tenant = _api("POST", "/api/tenants", payload)
    if args.json:
        print(json.dumps(tenant, ensure_ascii=False, indent=2))
        return
    print(f"Onboarded {tenant['name']} as tenant {tenant['id']}.")
    print("Paste these into the WeChat admin console (shown once; keep them safe):")
    for label, key in (
        ("URL", "webhook_url"),
        ("Token", "token"),
        ("EncodingAESKey", "encoding_aes_key"),
        ("Mode", "encrypt_mode"),
    ):
        print(f"  {label:<15}{tenant[key]}")


def tenants_list(args: argparse.Namespace) -> None:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        query = urllib.parse.urlencode({"limit": 200, **({"after": after} if after else {})})
        page = _api("GET", f"/api/tenants?{query}")
        items += page["items"]
        after = page.get("next_after")
        if not after:
            break
    print(
        json.dumps(items, ensure_ascii=False, indent=2)
        if args.json
        else _table(items, TABLE_COLUMNS)
    )


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


def simulate(args: argparse.Namespace) -> None:
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
    base = os.environ.get("WXP_URL", "http://127.0.0.1:8080").rstrip("/")
    url = f"{base}/wx/{account.tenant_id}?{urllib.parse.urlencode(signed.query)}"
    started = time.perf_counter()
    status, body = _request("POST", url, body=signed.body, content_type="text/xml")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wxp", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)
    tenants = sub.add_parser("tenants", help="onboard and list client accounts").add_subparsers(
        dest="action", required=True
    )
    add = tenants.add_parser("add", help="onboard an account")
    for flag in ("--name", "--appid", "--app-secret"):
        add.add_argument(flag, required=True)
    add.add_argument("--account-type", required=True, choices=("subscription", "service"))
    add.add_argument("--encrypt-mode", required=True, choices=("plain", "compatible", "safe"))
    for flag in ("--id", "--token", "--aes-key", "--timezone"):
        add.add_argument(flag)
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=tenants_add)
    listing = tenants.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=tenants_list)

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
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
        print(f"wxp: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
