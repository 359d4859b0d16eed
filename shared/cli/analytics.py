"""``wxp analytics rebuild --tenant ID --from DATE``: analytics recomputes an account's
readers, finalized days, broadcast impacts and overview row from its raw log, from a
tenant-local day on (the raw log keeps the last ``WXP_ANALYTICS_RAW_DAYS`` days)."""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli.http import Api, tenant_path
from shared.cli.output import add_command, emit


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def rebuilt_text(answer: dict[str, Any]) -> str:
    """One line: what was recomputed."""
    return (
        f"rebuilt {answer['tenant_id']} from {answer['from']}: "
        f"{plural(answer['readers'], 'reader')} replaced, "
        f"{plural(answer['days_dropped'], 'finalized day')} dropped, "
        f"{plural(answer['impacts'], 'broadcast impact')} measured again; "
        "overview and send time recomputed"
    )


def rebuild(args: argparse.Namespace, api: Api) -> None:
    path = tenant_path(args.tenant, "rebuild")
    answer = api.call("POST", path, {"from": args.first})
    emit(answer, args, rebuilt_text(answer))


def add_parsers(sub: Any) -> None:
    group = sub.add_parser("analytics", help="analytics upkeep").add_subparsers(
        dest="action", required=True
    )
    parser = add_command(
        group, "rebuild", "recompute an account's derived figures from the raw log", rebuild
    )
    parser.set_defaults(service="analytics")
    parser.add_argument("--tenant", required=True, metavar="ID")
    parser.add_argument(
        "--from",
        dest="first",
        required=True,
        metavar="DATE",
        help="the first day, YYYY-MM-DD in the account's timezone, that the raw log keeps",
    )
