"""``wxp``: the operators' command line over the services' APIs.

Settings come from the environment, read once in :func:`main`: ``WXP_URL`` (the gateway,
default http://127.0.0.1:8080), ``WXP_SCHEDULER_URL`` (the scheduler, for ``broadcasts``
and ``quota``; default http://127.0.0.1:8082), ``WXP_ANALYTICS_URL`` (analytics, for
``stats``, ``overview`` and ``analytics``; default http://127.0.0.1:8083) and ``WXP_API_KEY`` (or
``WXP_ADMIN_KEY``). People get tables, scripts get ``--json`` (and, from analytics,
``--csv``); a failure exits non-zero with the server's error message.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from shared.cli import analytics, broadcasts, keys, simulate, stats, tenants
from shared.cli.http import Api, CliError
from shared.cli.settings import CliSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wxp", description=(__doc__ or "").splitlines()[0])
    # The API a command calls: broadcasts set "scheduler"; stats, overview and analytics
    # set "analytics".
    parser.set_defaults(service="gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    tenants.add_parsers(sub)
    keys.add_parsers(sub)
    simulate.add_parser(sub)
    broadcasts.add_parsers(sub)
    stats.add_parsers(sub)
    analytics.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = CliSettings.from_env(os.environ)
    apis = {
        "gateway": Api(settings.base_url, settings.key, "gateway"),
        "scheduler": Api(settings.scheduler_url, settings.key, "scheduler"),
        "analytics": stats.AnalyticsApi(settings.analytics_url, settings.key, "analytics"),
    }
    try:
        args.func(args, apis[args.service])
    except CliError as exc:
        print(f"wxp: {exc}", file=sys.stderr)
        sys.exit(1)
