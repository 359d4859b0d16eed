"""Property-based fuzzing of the analytics API against the document it serves, as
``tests/scheduler/test_broadcasts_fuzz.py`` does for the broadcasts API.

Schemathesis draws requests for each of the eleven operations of ``/api/openapi.json`` (the
stats, the send time, the health, the agency overview, the channel QR codes, the data
cube backfill and the rebuild from the raw log; valid requests, and invalid ones that must
be refused), sends them with the admin key to the real in-process analytics service, and
checks each answer: no 5xx, a documented status code and content type, a body that
matches the documented schema, invalid input refused.

Three in four valid requests are aimed at the fuzz's own tenant instead of at random ids,
so that the success paths run too: a tenant onboarded through the in-process gateway whose
readers followed, wrote and clicked, and whose broadcast's impact is measured (see
``busy_tenant``); a daily range, when the request has one, of real calendar days around
today (up to 400 days long, so some are over the limit); a backfill of 1 to 30 days; a
rebuild from a day between tomorrow and 40 days ago (the raw log keeps 35, so some are
refused, naming ``from``). The QR codes and the backfill go to the in-process fake
WeChat, which knows the tenant's account (its data cube answers zeros); the scenes are
drawn as they come. The agency overview is asked with the admin key, so it lists every
tenant, the fuzz's among them.

The requests go out from a worker thread: the services serve on this test's loop.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from aiohttp import ClientSession

from shared.wechat.simulator import Account
from tests.gateway.conftest import ADMIN_KEY
from tests.support.fake_wechat import FakeWeChat
from tests.support.fuzz import BUDGET_SECONDS, FuzzRun, every_operation, fuzz_operation

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
TENANT = "/api/tenants/{tenant_id}"
OPERATIONS = (  # what this fuzz covers of the document: all of it
    f"GET {TENANT}/stats/daily",
    f"GET {TENANT}/stats/activity",
    f"GET {TENANT}/stats/broadcasts",
    f"GET {TENANT}/stats/channels",
    f"GET {TENANT}/send-time",
    f"GET {TENANT}/health",
    "GET /api/overview",
    f"POST {TENANT}/qrcodes",
    f"GET {TENANT}/qrcodes",
    f"POST {TENANT}/backfill",
    f"POST {TENANT}/rebuild",
)
BACKFILL_DAYS = (1, 30)  # what a backfill aimed at the fuzz's tenant reads
REBUILD_DAYS_AGO = (-1, 40)  # where a rebuild aimed at the fuzz's tenant starts


@dataclass(frozen=True)
class Owned:
    """Points valid requests at the fuzz's tenant, daily ranges at real days, a backfill
    at a month or less, and a rebuild at a day around the raw log's."""

    tenant_id: str
    today: date

    def aim(self, case: schemathesis.Case, rng: random.Random) -> None:
        params = case.path_parameters
        if params and "tenant_id" in params:
            params["tenant_id"] = self.tenant_id
        if case.operation.path.endswith("/backfill") and isinstance(case.body, dict):
            case.body["days"] = rng.randint(*BACKFILL_DAYS)
        if case.operation.path.endswith("/rebuild") and isinstance(case.body, dict):
            first = self.today - timedelta(days=rng.randint(*REBUILD_DAYS_AGO))
            case.body["from"] = first.isoformat()
        query = case.query
        if not query:
            return
        last = self.today - timedelta(days=rng.randint(-3, 400))
        if "to" in query:
            query["to"] = last.isoformat()
        if "from" in query:
            query["from"] = (last - timedelta(days=rng.randint(0, 400))).isoformat()


def fuzz(analytics: str, tenant_id: str) -> FuzzRun:
    """Runs in a worker thread: every operation in turn, each failure noted."""
    owned = Owned(tenant_id=tenant_id, today=datetime.now(UTC).date())
    run = FuzzRun()

    def fuzz_one(operation: schemathesis.APIOperation) -> None:
        fuzz_operation(operation, owned.aim, run.counts)

    every_operation(f"{analytics}/api/openapi.json", AUTH, run, fuzz_one)
    return run


async def test_fuzzing_the_analytics_api_finds_no_5xx_and_no_schema_violation(
    analytics: str, busy_tenant: str, fake_server: tuple[FakeWeChat, str]
) -> None:
    fake, _ = fake_server
    started = time.monotonic()
    run = await asyncio.to_thread(fuzz, analytics, busy_tenant)
    elapsed = time.monotonic() - started

    assert not run.failures, "\n\n".join(run.failures)
    assert sorted(run.operations) == sorted(OPERATIONS), run.operations  # all eleven, each once
    assert run.counts["2xx"] >= 50, run.counts
    assert run.counts["4xx"] >= 50, run.counts
    assert fake.qrcodes(), "no QR code made through WeChat"
    assert any(call.errcode == 0 for call in fake.calls("/datacube/getusersummary")), fake.log
    assert elapsed < BUDGET_SECONDS, elapsed


@dataclass(frozen=True)
class Refused:
    """422, with ``error.field`` naming ``field``."""

    field: str


@dataclass(frozen=True)
class Days:
    """200, JSON: ``count`` consecutive days from ``first`` to ``last`` (where not given,
    the last is today in the tenant's timezone)."""

    count: int
    first: str | None = None
    last: str | None = None


@dataclass(frozen=True)
class Listed:
    """200, JSON: an empty list under ``key`` (a fresh tenant's answer)."""

    key: str


@dataclass(frozen=True)
class Edge:
    query: dict[str, str]
    expected: Refused | Days | Listed
    path: str = "/stats/daily"  # under /api/tenants/{id}, or the agency's /api/overview
    accept: str | None = None


def edge(name: str, *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Edge(*args, **kwargs), id=name)


# What Hypothesis rarely or never draws: each refused naming the field, or answered right.
EDGES = [
    edge("from 02-30", {"from": "2026-02-30", "to": "2026-03-10"}, Refused("from")),
    edge("from 02-30, Accept csv", {"from": "2026-02-30"}, Refused("from"), accept="text/csv"),
    edge("to 02-29, not a leap year", {"from": "2026-02-01", "to": "2026-02-29"}, Refused("to")),
    edge(
        "02-29 of a leap year",
        {"from": "2024-02-29", "to": "2024-03-01"},
        Days(2, "2024-02-29", "2024-03-01"),
    ),
    edge("from after to", {"from": "2026-03-02", "to": "2026-03-01"}, Refused("from")),
    edge("367 days", {"from": "2025-01-01", "to": "2026-01-02"}, Refused("from")),
    edge(
        "366 days",
        {"from": "2025-01-02", "to": "2026-01-02"},
        Days(366, "2025-01-02", "2026-01-02"),
    ),
    edge("format=xml", {"format": "xml"}, Refused("format")),
    edge("format=CSV", {"format": "CSV"}, Refused("format")),
    edge("format=xml, health", {"format": "xml"}, Refused("format"), path="/health"),
    edge("format=xml, overview", {"format": "xml"}, Refused("format"), path="/api/overview"),
    edge("0001-01-01 to 9999-12-31", {"from": "0001-01-01", "to": "9999-12-31"}, Refused("from")),
    edge("to 9999-12-31", {"to": "9999-12-31"}, Days(30, "9999-12-02", "9999-12-31")),
    edge(
        "9999-12-31 alone",
        {"from": "9999-12-31", "to": "9999-12-31"},
        Days(1, "9999-12-31", "9999-12-31"),
    ),
    edge(
        "0001-01-01 alone",
        {"from": "0001-01-01", "to": "0001-01-01"},
        Days(1, "0001-01-01", "0001-01-01"),
    ),
    edge("channels, from 02-30", {"from": "2026-02-30"}, Refused("from"), path="/stats/channels"),
    edge(
        "channels, to 9999-12-31",
        {"to": "9999-12-31"},
        Listed("channels"),
        path="/stats/channels",
    ),
    edge(
        "channels, 0001-01-01 alone",
        {"from": "0001-01-01", "to": "0001-01-01"},
        Listed("channels"),
        path="/stats/channels",
    ),
    edge("Accept csv, format=json", {"format": "json"}, Days(30), accept="text/csv"),
    edge("Arabic-Indic digits", {"from": "٢٠٢٦-01-01"}, Refused("from")),
    edge("a fullwidth digit", {"to": "2026-01-0１"}, Refused("to")),
    edge("a superscript two", {"from": "2026-01-0²"}, Refused("from")),
    edge("a trailing newline", {"from": "2026-01-01\n"}, Refused("from")),
    edge("an empty from", {"from": ""}, Refused("from")),
]


def local_days(timezone: str, *instants: datetime) -> set[str]:
    """The tenant-local dates of ``instants``: today, whether or not midnight came between."""
    return {instant.astimezone(ZoneInfo(timezone)).date().isoformat() for instant in instants}


@pytest.mark.parametrize("edge", EDGES)
async def test_edge_inputs_are_refused_naming_the_field_or_answered_right(
    edge: Edge,
    analytics: str,
    http: ClientSession,
    new_account: Callable[..., Awaitable[Account]],
) -> None:
    if edge.path.startswith("/api/"):
        url = analytics + edge.path
    else:
        url = f"{analytics}/api/tenants/{(await new_account('plain')).tenant_id}{edge.path}"
    headers = {**AUTH, **({"Accept": edge.accept} if edge.accept else {})}

    asked_at = datetime.now(UTC)
    async with http.get(url, params=edge.query, headers=headers) as response:
        status, content_type, text = response.status, response.content_type, await response.text()

    expected = edge.expected
    assert content_type == "application/json", (status, content_type, text)
    answer = json.loads(text)
    if isinstance(expected, Refused):
        assert (status, answer["error"].get("field")) == (422, expected.field), answer
        return
    assert status == 200, answer
    if isinstance(expected, Listed):
        assert answer[expected.key] == [], answer
        return
    days = [day["date"] for day in answer["days"]]
    start = date.fromisoformat(days[0])
    assert days == [(start + timedelta(days=n)).isoformat() for n in range(expected.count)]
    assert days[0] == (expected.first or days[0])
    today = local_days(answer["timezone"], asked_at, datetime.now(UTC))
    assert days[-1] in ({expected.last} if expected.last else today), (days[-1], today)


WEEK_GRID = ["weekday", *(f"h{hour:02d}" for hour in range(24))]
# The header row of each answer as CSV, and how many rows follow it for a quiet tenant
# (None: one a tenant, for the overview).
CSV_ANSWERS: dict[str, tuple[list[str], int | None]] = {
    "/stats/daily": (
        [
            "date",
            "new",
            "lost",
            "net",
            "cumulative",
            "active_readers",
            "messages",
            "rule_replies",
            "cs_replies",
            "unanswered",
            "messages_by_type",
            "menu_clicks",
        ],
        30,
    ),
    "/stats/activity": (
        ["followers_known", "active_7d", "active_30d", "active_rate_7d", "active_rate_30d"],
        1,
    ),
    "/stats/broadcasts": (
        ["broadcast_id", "run_id", "submitted_at", "unfollows_24h", "baseline_24h", "lift"],
        0,
    ),
    "/send-time": (WEEK_GRID, 7),  # the by_hour_of_week grid, a row a weekday
    "/health": (["status", "last_interaction_at", "interactions_7d", "interactions_prev_7d"], 1),
    "/api/overview": (
        ["id", "name", "followers_known", "new_7d", "lost_7d", "active_rate_30d", "status"],
        None,
    ),
}


def documented_fields(document: dict[str, Any], path: str) -> set[str]:
    """The fields of one row of the path's JSON answer, as the served document describes
    them: the items of its list of objects, or else the answer itself."""
    schemas = document["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        return schemas[ref.rsplit("/", 1)[1]] if ref else schema

    content = document["paths"][path]["get"]["responses"]["200"]["content"]
    answer = resolve(content["application/json"]["schema"])
    lists = [resolve(p["items"]) for p in answer["properties"].values() if p.get("type") == "array"]
    rows = [schema for schema in lists if schema.get("type") == "object"]
    return set((rows[0] if rows else answer)["properties"])


@pytest.mark.parametrize("asked", ["format=csv", "Accept: text/csv"])
@pytest.mark.parametrize("path", CSV_ANSWERS)
async def test_csv_answers_start_with_the_documented_header_row(
    path: str,
    asked: str,
    analytics: str,
    http: ClientSession,
    new_account: Callable[..., Awaitable[Account]],
) -> None:
    header, rows = CSV_ANSWERS[path]
    if path.startswith("/api/"):
        documented, url = path, analytics + path
    else:
        documented = "/api/tenants/{tenant_id}" + path
        url = f"{analytics}/api/tenants/{(await new_account('plain')).tenant_id}{path}"
    params, headers = (
        ({"format": "csv"}, AUTH) if asked == "format=csv" else ({}, {**AUTH, "Accept": "text/csv"})
    )
    async with http.get(f"{analytics}/api/openapi.json") as response:
        document = await response.json()

    async with http.get(url, params=params, headers=headers) as response:
        status, content_type, text = response.status, response.content_type, await response.text()
    async with http.get(url, headers=AUTH) as response:
        as_json = await response.json()

    assert (status, content_type) == (200, "text/csv"), text
    assert text.startswith(",".join(header) + "\r\n"), text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == header
    assert len(table) - 1 == (len(as_json["tenants"]) if rows is None else rows), table
    if path != "/send-time":  # its CSV is the grid; its JSON, the advice with the grid
        assert set(header) == documented_fields(document, documented)
