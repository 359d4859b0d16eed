"""``wxp stats`` and ``wxp overview``: an account's figures from analytics, and every
account's at a glance. Besides tables and ``--json``, ``--csv`` prints the API's own CSV."""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.cli.http import Api, CliError, tenant_path
from shared.cli.output import Command, add_command, blank, emit, table

DAY_COLUMNS = ("date", "new", "lost", "net", "cumulative", "active", "messages", "unanswered")
SPARK_SERIES = (("new", "new"), ("lost", "lost"), ("active", "active_readers"))
BLOCKS = "▁▂▃▄▅▆▇█"
CHANNEL_COLUMNS = ("channel", "new", "lost", "retained_7d_rate", "active_30d_rate")
IMPACT_COLUMNS = ("broadcast_id", "run_id", "submitted_at", "unfollows_24h", "baseline_24h", "lift")
OVERVIEW_COLUMNS = (
    "id",
    "name",
    "followers_known",
    "new_7d",
    "lost_7d",
    "active_rate_30d",
    "status",
)


# The API's JSON, in figures for people.


def sparkline(values: Sequence[int]) -> str:
    """One block a value, from ▁ (0) to █ (the series' max), to the nearest of the eight
    (halves up); all ▁ when the series is all 0."""
    top = max(values, default=0)
    if top <= 0:
        return BLOCKS[0] * len(values)
    return "".join(BLOCKS[(14 * max(v, 0) + top) // (2 * top)] for v in values)


def percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def fields_text(fields: Mapping[str, Any]) -> str:
    width = max(len(k) for k in fields) + 2
    return "\n".join(f"{k:<{width}}{v}".rstrip() for k, v in fields.items())


def daily_text(answer: dict[str, Any]) -> str:
    days = answer["days"]
    rows = [
        {**d, "cumulative": blank(d["cumulative"]), "active": d["active_readers"]} for d in days
    ]
    sparks = [f"{label:<7}{sparkline([d[key] for d in days])}" for label, key in SPARK_SERIES]
    return "\n".join([table(rows, DAY_COLUMNS), "", *sparks])


def activity_text(answer: dict[str, Any]) -> str:
    rates = {k: percent(answer[k]) for k in ("active_rate_7d", "active_rate_30d")}
    return fields_text({**answer, **rates})


def health_text(answer: dict[str, Any]) -> str:
    return fields_text({**answer, "last_interaction_at": blank(answer["last_interaction_at"])})


def impacts_text(answer: dict[str, Any]) -> str:
    rows = [
        {
            **b,
            "baseline_24h": "" if b["baseline_24h"] is None else f"{b['baseline_24h']:.2f}",
            "lift": "" if b["lift"] is None else f"{b['lift']:.2f}×",
        }
        for b in answer["broadcasts"]
    ]
    return table(rows, IMPACT_COLUMNS)


def channels_text(answer: dict[str, Any]) -> str:
    rows = [
        {
            **c,
            "retained_7d_rate": percent(c["retained_7d_rate"]),
            "active_30d_rate": percent(c["active_30d_rate"]),
        }
        for c in answer["channels"]
    ]
    return table(rows, CHANNEL_COLUMNS)


def overview_text(answer: dict[str, Any]) -> str:
    rows = [{**t, "active_rate_30d": percent(t["active_rate_30d"])} for t in answer["tenants"]]
    return table(rows, OVERVIEW_COLUMNS)


# The commands: one GET each, shown in words, as JSON (--json) or as the API's CSV (--csv).


def report(
    args: argparse.Namespace,
    api: Api,
    path: str,
    words: Callable[[dict[str, Any]], str],
    query: Mapping[str, str | None] | None = None,
) -> None:
    given = {k: v for k, v in (query or {}).items() if v is not None}
    if args.csv:
        if args.json:
            raise CliError("--csv or --json, not both")
        sys.stdout.write(api.text(f"{path}?{urllib.parse.urlencode({**given, 'format': 'csv'})}"))
        return
    encoded = urllib.parse.urlencode(given)
    answer = api.call("GET", path + (f"?{encoded}" if encoded else ""))
    emit(answer, args, words(answer))


def daily(args: argparse.Namespace, api: Api) -> None:
    path = tenant_path(args.tenant, "stats", "daily")
    report(args, api, path, daily_text, {"from": args.first, "to": args.last})


def channels(args: argparse.Namespace, api: Api) -> None:
    path = tenant_path(args.tenant, "stats", "channels")
    report(args, api, path, channels_text, {"from": args.first, "to": args.last})


def activity(args: argparse.Namespace, api: Api) -> None:
    report(args, api, tenant_path(args.tenant, "stats", "activity"), activity_text)


def impacts(args: argparse.Namespace, api: Api) -> None:
    report(args, api, tenant_path(args.tenant, "stats", "broadcasts"), impacts_text)


def health(args: argparse.Namespace, api: Api) -> None:
    report(args, api, tenant_path(args.tenant, "health"), health_text)


def overview(args: argparse.Namespace, api: Api) -> None:
    report(args, api, "/api/overview", overview_text)


# The parsers.


def _command(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    """A command of analytics' API, which answers CSV too."""
    parser = add_command(group, name, help_text, func)
    parser.set_defaults(service="analytics")
    parser.add_argument("--csv", action="store_true", help="print the API's CSV")
    return parser


def _about_one(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    parser = _command(group, name, help_text, func)
    parser.add_argument("tenant", metavar="TENANT")
    return parser


def add_parsers(sub: Any) -> None:
    group = sub.add_parser("stats", help="an account's figures (analytics)").add_subparsers(
        dest="action", required=True
    )
    days = _about_one(group, "daily", "a row a day, and sparklines of new, lost, active", daily)
    by_channel = _about_one(
        group, "channels", "new, lost, 7-day retention and 30-day activity by channel", channels
    )
    for ranged in (days, by_channel):
        ranged.add_argument(
            "--from",
            dest="first",
            metavar="DATE",
            help="the first day, YYYY-MM-DD in the account's timezone (30 days up to --to)",
        )
        ranged.add_argument("--to", dest="last", metavar="DATE", help="the last day (today)")
    _about_one(group, "activity", "known followers and active readers (7 and 30 days)", activity)
    _about_one(group, "broadcasts", "unfollows in the 24 h after each broadcast", impacts)
    _about_one(group, "health", "active, declining, dormant or no_data, and why", health)
    _command(sub, "overview", "every account, worst health first (analytics)", overview)
