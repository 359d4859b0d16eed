"""``wxp tenants``: onboard, list, show, change and offboard client accounts."""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from shared.cli.http import Api, api_path
from shared.cli.output import add_command, emit, table

TENANT_COLUMNS = ("id", "name", "appid", "account_type", "encrypt_mode", "timezone")
SHOWN_ONCE = (
    ("URL", "webhook_url"),
    ("Token", "token"),
    ("EncodingAESKey", "encoding_aes_key"),
    ("Mode", "encrypt_mode"),
)


def _fields(args: argparse.Namespace, names: dict[str, str]) -> dict[str, Any]:
    return {
        field: getattr(args, attr)
        for attr, field in names.items()
        if getattr(args, attr, None) is not None
    }


def _secrets_block(tenant: dict[str, Any]) -> str:
    lines = ["Paste these into the WeChat admin console (shown once; keep them safe):"]
    lines += [f"  {label:<15}{tenant[key]}" for label, key in SHOWN_ONCE if key in tenant]
    return "\n".join(lines)


def add(args: argparse.Namespace, api: Api) -> None:
    tenant = api.call(
        "POST",
        "/api/tenants",
        _fields(
            args,
            {
                "id": "id",
                "name": "name",
                "appid": "appid",
                "app_secret": "app_secret",
                "account_type": "account_type",
                "encrypt_mode": "encrypt_mode",
                "token": "token",
                "aes_key": "encoding_aes_key",
                "timezone": "timezone",
            },
        ),
    )
    emit(
        tenant,
        args,
        f"Onboarded {tenant['name']} as tenant {tenant['id']}.\n" + _secrets_block(tenant),
    )


def listing(args: argparse.Namespace, api: Api) -> None:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        query = urllib.parse.urlencode({"limit": 200, **({"after": after} if after else {})})
        page = api.call("GET", f"/api/tenants?{query}")
        items += page["items"]
        after = page.get("next_after")
        if not after:
            break
    emit(items, args, table(items, TENANT_COLUMNS))


def show(args: argparse.Namespace, api: Api) -> None:
    tenant = api.call("GET", api_path("api", "tenants", args.tenant))
    emit(tenant, args, "\n".join(f"{k:<14}{v}" for k, v in tenant.items()))


def update(args: argparse.Namespace, api: Api) -> None:
    changes = _fields(
        args,
        {
            "name": "name",
            "account_type": "account_type",
            "encrypt_mode": "encrypt_mode",
            "timezone": "timezone",
            "token": "token",
            "aes_key": "encoding_aes_key",
            "app_secret": "app_secret",
        },
    )
    if args.regenerate:
        changes["regenerate"] = args.regenerate
    tenant = api.call("PATCH", api_path("api", "tenants", args.tenant), changes)
    rotated = any(key in tenant for key in ("token", "encoding_aes_key"))
    emit(
        tenant,
        args,
        f"Updated {tenant['id']}." + ("\n" + _secrets_block(tenant) if rotated else ""),
    )


def delete(args: argparse.Namespace, api: Api) -> None:
    api.call("DELETE", api_path("api", "tenants", args.tenant))
    emit({"deleted": args.tenant}, args, f"Deleted {args.tenant} and all its data.")


def add_parsers(sub: Any) -> None:
    tenants = sub.add_parser("tenants", help="client accounts").add_subparsers(
        dest="action", required=True
    )
    onboard = add_command(tenants, "add", "onboard an account", add)
    for flag in ("--name", "--appid", "--app-secret"):
        onboard.add_argument(flag, required=True)
    onboard.add_argument("--account-type", required=True, choices=("subscription", "service"))
    onboard.add_argument("--encrypt-mode", required=True, choices=("plain", "compatible", "safe"))
    for flag in ("--id", "--token", "--aes-key", "--timezone"):
        onboard.add_argument(flag)
    add_command(tenants, "list", "list accounts", listing)
    add_command(tenants, "show", "show an account", show).add_argument("tenant")
    change = add_command(tenants, "update", "change an account or rotate its secrets", update)
    change.add_argument("tenant")
    for flag in ("--name", "--timezone", "--token", "--aes-key", "--app-secret"):
        change.add_argument(flag)
    change.add_argument("--account-type", choices=("subscription", "service"))
    change.add_argument("--encrypt-mode", choices=("plain", "compatible", "safe"))
    change.add_argument(
        "--regenerate",
        action="append",
        choices=("token", "encoding_aes_key"),
        help="have the server generate a new one (repeatable)",
    )
    add_command(tenants, "delete", "offboard an account and delete its data", delete).add_argument(
        "tenant"
    )
