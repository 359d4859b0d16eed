"""``wxp``: the operators' command line over the services' APIs.

Settings come from the environment, read once in :func:`main`: ``WXP_URL`` (the gateway,
default http://127.0.0.1:8080), ``WXP_SCHEDULER_URL`` (the scheduler, for ``broadcasts``
and ``quota``; default http://127.0.0.1:8082), ``WXP_ANALYTICS_URL`` (analytics, for
``stats``, ``overview`` and ``analytics``; default http://127.0.0.1:8083), ``WXP_REPLIES_URL``
(replies, for ``rules``; default http://127.0.0.1:8081) and ``WXP_API_KEY`` (or
``WXP_ADMIN_KEY``). People get tables, scripts get ``--json`` (and, from analytics,
``--csv``); a failure exits non-zero with one line on stderr, never a traceback
(``WXP_DEBUG=1`` shows the traceback of an unexpected error; see ``failures.py``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from shared.cli import analytics, broadcasts, inbox, keys, rules, simulate, stats, tenants
from shared.cli.failures import reported
from shared.cli.http import Api
from shared.cli.settings import CliSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wxp", description=(__doc__ or "").splitlines()[0])
    # The API a command calls: broadcasts set "scheduler"; stats, overview and analytics
    # set "analytics"; rules set "replies".
    parser.set_defaults(service="gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    tenants.add_parsers(sub)
    keys.add_parsers(sub)
    simulate.add_parser(sub)
    rules.add_parsers(sub)
    inbox.add_parsers(sub)
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
        "analytics": Api(settings.analytics_url, settings.key, "analytics"),
        "replies": Api(settings.replies_url, settings.key, "replies service"),
    }
    with reported(debug=settings.debug):
        args.func(args, apis[args.service])
