"""``wxp tenants`` and ``wxp keys``: the agency API from the command line."""

from __future__ import annotations

import argparse
import json
import urllib.parse
from typing import Any

from shared.cli.http import api, table

TENANT_COLUMNS = ("id", "name", "appid", "account_type", "encrypt_mode", "timezone")
KEY_COLUMNS = ("id", "scope", "tenant_id", "name", "created_at")
SHOWN_ONCE = (
    ("URL", "webhook_url"),
    ("Token", "token"),
    ("EncodingAESKey", "encoding_aes_key"),
    ("Mode", "encrypt_mode"),
)


def _print(data: Any, args: argparse.Namespace, human: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else human)


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


def add(args: argparse.Namespace) -> None:
    tenant = api(
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
    _print(
        tenant,
        args,
        f"Onboarded {tenant['name']} as tenant {tenant['id']}.\n" + _secrets_block(tenant),
    )


def listing(args: argparse.Namespace) -> None:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        query = urllib.parse.urlencode({"limit": 200, **({"after": after} if after else {})})
        page = api("GET", f"/api/tenants?{query}")
        items += page["items"]
        after = page.get("next_after")
        if not after:
            break
    _print(items, args, table(items, TENANT_COLUMNS))


def show(args: argparse.Namespace) -> None:
    tenant = api("GET", f"/api/tenants/{args.tenant}")
    _print(tenant, args, "\n".join(f"{k:<14}{v}" for k, v in tenant.items()))


def update(args: argparse.Namespace) -> None:
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
    tenant = api("PATCH", f"/api/tenants/{args.tenant}", changes)
    rotated = any(key in tenant for key in ("token", "encoding_aes_key"))
    _print(
        tenant,
        args,
        f"Updated {tenant['id']}." + ("\n" + _secrets_block(tenant) if rotated else ""),
    )


def delete(args: argparse.Namespace) -> None:
    api("DELETE", f"/api/tenants/{args.tenant}")
    _print({"deleted": args.tenant}, args, f"Deleted {args.tenant} and all its data.")


def keys_create(args: argparse.Namespace) -> None:
    path = f"/api/tenants/{args.tenant}/keys" if args.tenant else "/api/keys"
    key = api("POST", path, {"name": args.name or ""})
    _print(
        key,
        args,
        f"Key {key['id']} ({key['scope']}{', ' + args.tenant if args.tenant else ''})"
        f":\n  {key['key']}\nShown once: store it now.",
    )


def keys_list(args: argparse.Namespace) -> None:
    path = f"/api/tenants/{args.tenant}/keys" if args.tenant else "/api/keys"
    items = api("GET", path)["items"]
    _print(items, args, table(items, KEY_COLUMNS))


def keys_revoke(args: argparse.Namespace) -> None:
    path = (
        f"/api/tenants/{args.tenant}/keys/{args.key_id}"
        if args.tenant
        else f"/api/keys/{args.key_id}"
    )
    api("DELETE", path)
    _print({"revoked": args.key_id}, args, f"Revoked {args.key_id}.")


def _command(group: Any, name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(func=func)
    return parser


def add_parsers(sub: Any) -> None:
    tenants = sub.add_parser("tenants", help="client accounts").add_subparsers(
        dest="action", required=True
    )
    onboard = _command(tenants, "add", "onboard an account", add)
    for flag in ("--name", "--appid", "--app-secret"):
        onboard.add_argument(flag, required=True)
    onboard.add_argument("--account-type", required=True, choices=("subscription", "service"))
    onboard.add_argument("--encrypt-mode", required=True, choices=("plain", "compatible", "safe"))
    for flag in ("--id", "--token", "--aes-key", "--timezone"):
        onboard.add_argument(flag)
    _command(tenants, "list", "list accounts", listing)
    _command(tenants, "show", "show an account", show).add_argument("tenant")
    change = _command(tenants, "update", "change an account or rotate its secrets", update)
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
    _command(tenants, "delete", "offboard an account and delete its data", delete).add_argument(
        "tenant"
    )

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = _command(
        keys, "create", "create an agency key, or with --tenant a tenant key", keys_create
    )
    create.add_argument("--tenant")
    create.add_argument("--name")
    _command(keys, "list", "list agency keys, or with --tenant a tenant's", keys_list).add_argument(
        "--tenant"
    )
    revoke = _command(keys, "revoke", "revoke a key", keys_revoke)
    revoke.add_argument("key_id")
    revoke.add_argument("--tenant")
