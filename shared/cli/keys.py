"""``wxp keys``: API keys, agency-wide or (with ``--tenant``) a tenant's."""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli.http import Api, api_path
from shared.cli.output import add_command, emit, table

KEY_COLUMNS = ("id", "scope", "tenant_id", "name", "created_at")


def keys_path(tenant: str | None, key_id: str | None = None) -> str:
    base = ("api", "tenants", tenant, "keys") if tenant else ("api", "keys")
    return api_path(*base) if key_id is None else api_path(*base, key_id)


def create(args: argparse.Namespace, api: Api) -> None:
    key = api.call("POST", keys_path(args.tenant), {"name": args.name or ""})
    emit(
        key,
        args,
        f"Key {key['id']} ({key['scope']}{', ' + args.tenant if args.tenant else ''})"
        f":\n  {key['key']}\nShown once: store it now.",
    )


def listing(args: argparse.Namespace, api: Api) -> None:
    items = api.call("GET", keys_path(args.tenant))["items"]
    emit(items, args, table(items, KEY_COLUMNS))


def revoke(args: argparse.Namespace, api: Api) -> None:
    api.call("DELETE", keys_path(args.tenant, args.key_id))
    emit({"revoked": args.key_id}, args, f"Revoked {args.key_id}.")


def add_parsers(sub: Any) -> None:
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    new = add_command(keys, "create", "create an agency key, or with --tenant a tenant key", create)
    new.add_argument("--tenant")
    new.add_argument("--name")
    add_command(
        keys, "list", "list agency keys, or with --tenant a tenant's", listing
    ).add_argument("--tenant")
    gone = add_command(keys, "revoke", "revoke a key", revoke)
    gone.add_argument("key_id")
    gone.add_argument("--tenant")
