"""``wxp stats`` and ``wxp overview`` against a stand-in for analytics' HTTP API.

The stand-in records what the CLI asks and answers what a test tells it to, as JSON or
(for ``format=csv``) as text: it checks the requests and what the operator sees, not the
figures (the end-to-end test runs the real analytics).
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.cli import build_parser, stats
from shared.cli.settings import CliSettings
from shared.cli.stats import sparkline
from tests.support.cli import assert_one_error_line, wxp

KEY = "k_operator"
BASE = "/api/tenants/acme"
NO_ROUTE = (404, {"error": {"code": "not_found", "message": "no route"}})


@dataclass(frozen=True, slots=True)
class Seen:
    path: str
    query: dict[str, str]
    authorization: str | None


@dataclass
class FakeAnalytics:
    """Answers ``(path, format)`` with what :meth:`answer` set: a dict as JSON, text as
    CSV; remembers every request."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)

    def answer(self, path: str, status: int, body: Any, fmt: str = "json") -> None:
        self.answers[(path, fmt)] = (status, body)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            Seen(request.path, dict(request.query), request.headers.get("Authorization"))
        )
        fmt = request.query.get("format", "json")
        status, body = self.answers.get((request.path, fmt), NO_ROUTE)
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/csv")
        return web.json_response(body, status=status)


@pytest.fixture
async def analytics(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeAnalytics]:
    fake = FakeAnalytics()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    monkeypatch.setenv("WXP_ANALYTICS_URL", fake.url)
    monkeypatch.setenv("WXP_URL", "http://127.0.0.1:9")  # never the gateway
    monkeypatch.setenv("WXP_API_KEY", KEY)
    yield fake
    await server.close()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A local port that is bound but not listening: connections to it are refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


def day(date: str, new: int, lost: int, active: int, **fields: Any) -> dict[str, Any]:
    return {
        "date": date,
        "new": new,
        "lost": lost,
        "net": new - lost,
        "cumulative": None,
        "active_readers": active,
        "messages": 0,
        "messages_by_type": {},
        "menu_clicks": {},
        "rule_replies": 0,
        "cs_replies": 0,
        "unanswered": 0,
        **fields,
    }


DAILY = {
    "timezone": "Asia/Shanghai",
    "days": [
        day("2026-03-01", 0, 0, 0),
        day("2026-03-02", 2, 1, 3, messages=5, unanswered=1, cumulative=120),
        day("2026-03-03", 8, 0, 12, messages=40),
        day("2026-03-04", 1, 3, 6, messages=7, unanswered=2),
    ],
}
ACTIVITY = {
    "followers_known": 3,
    "active_7d": 2,
    "active_30d": 3,
    "active_rate_7d": 0.6667,
    "active_rate_30d": 1.0,
}
HEALTH = {
    "status": "declining",
    "last_interaction_at": "2026-03-04T12:00:00Z",
    "interactions_7d": 4,
    "interactions_prev_7d": 10,
}
IMPACTS = {
    "broadcasts": [
        {
            "broadcast_id": "b1",
            "run_id": "r1",
            "submitted_at": "2026-03-01T12:00:00Z",
            "unfollows_24h": 3,
            "baseline_24h": 0.8571,
            "lift": 3.5,
        },
        {
            "broadcast_id": "b2",
            "run_id": "r2",
            "submitted_at": "2026-03-02T12:00:00Z",
            "unfollows_24h": 0,
            "baseline_24h": None,
            "lift": None,
        },
    ]
}
OVERVIEW = {
    "tenants": [
        {
            "id": "zz",
            "name": "Quiet",
            "followers_known": 9,
            "new_7d": 0,
            "lost_7d": 1,
            "active_rate_30d": 0.0,
            "status": "dormant",
        },
        {
            "id": "acme",
            "name": "Acme",
            "followers_known": 0,
            "new_7d": 0,
            "lost_7d": 0,
            "active_rate_30d": None,
            "status": "no_data",
        },
        {
            "id": "bean",
            "name": "Bean",
            "followers_known": 400,
            "new_7d": 12,
            "lost_7d": 2,
            "active_rate_30d": 0.255,
            "status": "active",
        },
    ]
}


# Settings, arguments and sparklines


def test_the_analytics_url_defaults_to_the_local_analytics() -> None:
    assert CliSettings.from_env({}).analytics_url == "http://127.0.0.1:8083"
    env = {"WXP_ANALYTICS_URL": "https://stats.example/", "WXP_URL": "https://gw.example"}
    assert CliSettings.from_env(env).analytics_url == "https://stats.example"
    assert CliSettings.from_env({"WXP_ANALYTICS_URL": ""}).analytics_url.endswith(":8083")


@pytest.mark.parametrize(
    ("argv", "func"),
    [
        (["stats", "daily", "acme", "--from", "2026-03-01"], stats.daily),
        (["stats", "activity", "acme", "--csv"], stats.activity),
        (["stats", "broadcasts", "acme"], stats.impacts),
        (["stats", "health", "acme", "--json"], stats.health),
        (["overview"], stats.overview),
    ],
)
def test_each_command_calls_analytics(argv: list[str], func: object) -> None:
    args = build_parser().parse_args(argv)
    assert (args.func, args.service) == (func, "analytics")


def test_a_tenant_is_needed_except_for_the_overview(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["stats", "health"])
    assert caught.value.code == 2
    assert "TENANT" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["overview", "acme"])


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ([0, 2, 8, 1], "▁▃█▂"),
        ([0, 1, 2, 3, 4, 5, 6, 7], "▁▂▃▄▅▆▇█"),
        ([0, 1, 2], "▁▅█"),  # 3.5 eighths: halves go up
        ([5, 5], "██"),
        ([1, 100], "▁█"),  # to the series' max, so a small value may read as none
        ([0, 0, 0], "▁▁▁"),
        ([], ""),
    ],
)
def test_sparklines_scale_to_the_series_max(values: list[int], line: str) -> None:
    assert sparkline(values) == line


# The commands' requests and what they print


async def test_daily_is_a_table_then_a_sparkline_per_series(
    analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    analytics.answer(f"{BASE}/stats/daily", 200, DAILY)
    outcome = await wxp(capsys, "stats", "daily", "acme")
    assert outcome.code == 0, outcome.err
    assert analytics.seen == [Seen(f"{BASE}/stats/daily", {}, f"Bearer {KEY}")]
    figures, _, sparks = outcome.out.partition("\n\n")
    assert [line.split() for line in figures.splitlines()] == [
        ["DATE", "NEW", "LOST", "NET", "CUMULATIVE", "ACTIVE", "MESSAGES", "UNANSWERED"],
        ["2026-03-01", "0", "0", "0", "0", "0", "0"],  # no cumulative known: blank
        ["2026-03-02", "2", "1", "1", "120", "3", "5", "1"],
        ["2026-03-03", "8", "0", "8", "12", "40", "0"],
        ["2026-03-04", "1", "3", "-2", "6", "7", "2"],
    ]
    assert sparks.splitlines() == ["new    ▁▃█▂", "lost   ▁▃▁█", "active ▁▃█▅"]


async def test_daily_passes_its_range_and_json_is_the_apis(
    analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = {"timezone": "UTC", "days": [day("2026-03-01", 0, 0, 0), day("2026-03-02", 0, 0, 0)]}
    analytics.answer(f"{BASE}/stats/daily", 200, quiet)
    argv = ["stats", "daily", "acme", "--from", "2026-03-01", "--to", "2026-03-02"]
    outcome = await wxp(capsys, *argv)
    assert outcome.out.endswith("\n\nnew    ▁▁\nlost   ▁▁\nactive ▁▁\n")
    assert json.loads((await wxp(capsys, *argv, "--json")).out) == quiet
    assert (await wxp(capsys, "stats", "daily", "acme", "--to", "2026-03-02")).code == 0
    assert [s.query for s in analytics.seen] == [
        {"from": "2026-03-01", "to": "2026-03-02"},
        {"from": "2026-03-01", "to": "2026-03-02"},
        {"to": "2026-03-02"},
    ]


async def test_activity_and_health_are_fields_with_rates_as_percentages(
    analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    analytics.answer(f"{BASE}/stats/activity", 200, ACTIVITY)
    analytics.answer(f"{BASE}/health", 200, HEALTH)
    assert (await wxp(capsys, "stats", "activity", "acme")).out.splitlines() == [
        "followers_known  3",
        "active_7d        2",
        "active_30d       3",
        "active_rate_7d   66.7%",
        "active_rate_30d  100.0%",
    ]
    assert (await wxp(capsys, "stats", "health", "acme")).out.splitlines() == [
        "status                declining",
        "last_interaction_at   2026-03-04T12:00:00Z",
        "interactions_7d       4",
        "interactions_prev_7d  10",
    ]
    assert json.loads((await wxp(capsys, "stats", "health", "acme", "--json")).out) == HEALTH


async def test_an_account_without_followers_or_interactions_shows_blanks(
    analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = {**ACTIVITY, "followers_known": 0, "active_rate_7d": None, "active_rate_30d": None}
    analytics.answer(f"{BASE}/stats/activity", 200, nobody)
    silent = {**HEALTH, "status": "no_data", "last_interaction_at": None}
    analytics.answer(f"{BASE}/health", 200, silent)
    activity = (await wxp(capsys, "stats", "activity", "acme")).out.splitlines()
    assert activity[-2:] == ["active_rate_7d", "active_rate_30d"]
    health = (await wxp(capsys, "stats", "health", "acme")).out.splitlines()
    assert health[:2] == ["status                no_data", "last_interaction_at"]


async def test_broadcasts_are_a_table_of_unfollows_against_the_baseline(
    analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    analytics.answer(f"{BASE}/stats/broadcasts", 200, IMPACTS)
    outcome = await wxp(capsys, "stats", "broadcasts", "acme")
    assert [line.split() for line in outcome.out.splitlines()] == [
        ["BROADCAST_ID", "RUN_ID", "SUBMITTED_AT", "UNFOLLOWS_24H", "BASELINE_24H", "LIFT"],
        ["b1", "r1", "2026-03-01T12:00:00Z", "3", "0.86", "3.50×"],
        ["b2", "r2", "2026-03-02T12:00:00Z", "0"],
    ]
    assert json.loads((await wxp(capsys, "stats", "broadcasts", "acme", "--json")).out) == (IMPACTS)


async def test_the_overview_keeps_the_apis_order_worst_first(
    analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    analytics.answer("/api/overview", 200, OVERVIEW)
    outcome = await wxp(capsys, "overview")
    assert analytics.seen == [Seen("/api/overview", {}, f"Bearer {KEY}")]
    assert [line.split() for line in outcome.out.splitlines()] == [
        ["ID", "NAME", "FOLLOWERS_KNOWN", "NEW_7D", "LOST_7D", "ACTIVE_RATE_30D", "STATUS"],
        ["zz", "Quiet", "9", "0", "1", "0.0%", "dormant"],
        ["acme", "Acme", "0", "0", "0", "no_data"],
        ["bean", "Bean", "400", "12", "2", "25.5%", "active"],
    ]
    assert json.loads((await wxp(capsys, "overview", "--json")).out) == OVERVIEW


@pytest.mark.parametrize(
    ("argv", "path", "query"),
    [
        (["stats", "daily", "acme", "--from", "2026-03-01"], f"{BASE}/stats/daily", "from"),
        (["stats", "activity", "acme"], f"{BASE}/stats/activity", None),
        (["stats", "broadcasts", "acme"], f"{BASE}/stats/broadcasts", None),
        (["stats", "health", "acme"], f"{BASE}/health", None),
        (["overview"], "/api/overview", None),
    ],
)
async def test_csv_is_the_apis_csv_as_is(
    argv: list[str],
    path: str,
    query: str | None,
    analytics: FakeAnalytics,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = 'id,name\r\nacme,"Acme, Inc."\r\nzz,\'=1+1\r\n'
    analytics.answer(path, 200, text, fmt="csv")
    outcome = await wxp(capsys, *argv, "--csv")
    assert (outcome.code, outcome.out, outcome.err) == (0, text, "")
    [seen] = analytics.seen
    assert seen.query == {"format": "csv", **({query: "2026-03-01"} if query else {})}


# Errors: one line, exit 1


@pytest.mark.parametrize("extra", [[], ["--json"], ["--csv"]])
async def test_a_refused_range_is_the_servers_message_on_one_line(
    extra: list[str], analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    error = {"code": "invalid", "message": "from: not a calendar date", "field": "from"}
    for fmt in ("json", "csv"):
        analytics.answer(f"{BASE}/stats/daily", 422, {"error": error}, fmt=fmt)
    outcome = await wxp(capsys, "stats", "daily", "acme", "--from", "2026-02-30", *extra)
    assert_one_error_line(outcome)
    assert outcome.err == "wxp: 422 invalid: from: not a calendar date\n"


@pytest.mark.parametrize("extra", [[], ["--csv"]])
async def test_an_unknown_tenant_is_a_404_on_one_line(
    extra: list[str], analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    error = {"code": "not_found", "message": "no tenant nobody"}
    for fmt in ("json", "csv"):
        analytics.answer("/api/tenants/nobody/health", 404, {"error": error}, fmt=fmt)
    outcome = await wxp(capsys, "stats", "health", "nobody", *extra)
    assert_one_error_line(outcome)
    assert outcome.err == "wxp: 404 not_found: no tenant nobody\n"


async def test_csv_and_json_together_are_refused_before_asking(
    analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = await wxp(capsys, "overview", "--csv", "--json")
    assert_one_error_line(outcome, "--csv or --json")
    assert analytics.seen == []


@pytest.mark.parametrize(
    "argv",
    [
        ["overview"],
        ["overview", "--csv"],
        ["stats", "daily", "acme", "--json"],
        ["stats", "health", "acme", "--csv"],
    ],
)
async def test_an_unreachable_analytics_is_one_line(
    argv: list[str],
    refused_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WXP_ANALYTICS_URL", refused_url)
    outcome = await wxp(capsys, *argv)
    assert_one_error_line(outcome, f"wxp: cannot reach the analytics at {refused_url} (")


async def test_channels_are_a_table_with_rates_as_percentages_over_a_range(
    analytics: FakeAnalytics, capsys: pytest.CaptureFixture[str]
) -> None:
    channels = {
        "channels": [
            {
                "channel": "other",
                "new": 1,
                "lost": 0,
                "retained_7d_rate": None,
                "active_30d_rate": 0.5,
            },
            {
                "channel": "store-42",
                "new": 3,
                "lost": 1,
                "retained_7d_rate": 0.5,
                "active_30d_rate": 1.0,
            },
        ]
    }
    analytics.answer(f"{BASE}/stats/channels", 200, channels)
    out = (await wxp(capsys, "stats", "channels", "acme", "--from", "2026-03-01")).out
    lines = out.splitlines()
    assert lines[0].split() == ["CHANNEL", "NEW", "LOST", "RETAINED_7D_RATE", "ACTIVE_30D_RATE"]
    assert lines[-1].split() == ["store-42", "3", "1", "50.0%", "100.0%"]
    assert analytics.seen[-1].query == {"from": "2026-03-01"}
