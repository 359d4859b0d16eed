"""`wxp stats` and `wxp overview` as an operator runs them: the console script against
analytics as a process, counting real envelopes from the bus (the named readers of
tests/e2e/test_analytics.py's script, without its filler)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aio_pika.abc import AbstractConnection

from tests.conftest import tenant_record
from tests.e2e.test_analytics import ZONE, Script, at, publish
from tests.e2e.test_cli import wxp
from tests.support.bus import eventually
from tests.support.processes import ServiceProcess

NAMED = 13  # the script's envelopes before its filler: o1 to o4, and two replies
NO_GATEWAY = "http://127.0.0.1:9"  # stats and overview must not need it
# date, new, lost, net, cumulative (unknown: blank), active, messages, unanswered
TABLE = [
    ["DATE", "NEW", "LOST", "NET", "CUMULATIVE", "ACTIVE", "MESSAGES", "UNANSWERED"],
    ["{day0}", "0", "0", "0", "0", "0", "0"],
    ["{day1}", "2", "1", "1", "2", "2", "1"],  # o1, o2 in; o3 out; o1 unanswered once
    ["{day2}", "1", "0", "1", "2", "2", "1"],  # o4 in; o2 answered by an agent, o1 not
]


@dataclass
class Cli:
    """``wxp`` pointed at analytics (WXP_ANALYTICS_URL), about one tenant."""

    tenant_id: str

    async def __call__(self, *args: str) -> tuple[int, str, str]:
        return await wxp(*args, url=NO_GATEWAY)

    async def ok(self, *args: str) -> str:
        code, out, err = await self(*args)
        assert code == 0, err
        return out

    async def ok_json(self, *args: str) -> Any:
        return json.loads(await self.ok(*args, "--json"))


@pytest.fixture
async def cli(
    services: Callable[..., Awaitable[ServiceProcess]],
    mongo: Any,
    created_tenants: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cli]:
    """Analytics as a process, and a tenant of its own (as the gateway would onboard it)."""
    tenant_id = f"st-{secrets.token_hex(5)}"
    await mongo["wxp_control"].tenants.insert_one(tenant_record(tenant_id, "CLI stats"))
    created_tenants.append(tenant_id)
    analytics = await services("analytics")
    monkeypatch.setenv("WXP_ANALYTICS_URL", analytics.url)
    yield Cli(tenant_id)
    await mongo.drop_database(f"wxp_t_{tenant_id}")


async def test_stats_and_the_overview_show_what_came_on_the_bus(
    cli: Cli, amqp: AbstractConnection
) -> None:
    tenant = cli.tenant_id
    today = datetime.now(UTC).astimezone(ZONE).date()
    day0, day1, day2 = (today - timedelta(days=n) for n in (3, 2, 1))
    await publish(amqp, Script(tenant, day1, day2).envelopes[:NAMED])
    span = ("--from", day0.isoformat(), "--to", day2.isoformat())
    expected = [[cell.format(day0=day0, day1=day1, day2=day2) for cell in r] for r in TABLE]

    async def counted() -> bool:
        days = (await cli.ok_json("stats", "daily", tenant, *span))["days"]
        health = await cli.ok_json("stats", "health", tenant)
        return [table_row(d) for d in days] == expected[1:] and health["interactions_7d"] == 6

    await eventually(counted, 30, "the script's envelopes counted")
    figures, _, sparks = (await cli.ok("stats", "daily", tenant, *span)).partition("\n\n")
    assert [line.split() for line in figures.splitlines()] == expected
    assert sparks.splitlines() == ["new    ▁█▅", "lost   ▁█▁", "active ▁██"]

    assert (await cli.ok("stats", "activity", tenant)).splitlines() == [
        "followers_known  3",  # o1, o2, o4
        "active_7d        2",  # o1 and o2 wrote
        "active_30d       2",
        "active_rate_7d   66.7%",
        "active_rate_30d  66.7%",
    ]
    last = at(day2, "21:00").isoformat().replace("+00:00", "Z")  # o1's "谢谢"
    assert (await cli.ok("stats", "health", tenant)).splitlines() == [
        "status                active",
        f"last_interaction_at   {last}",
        "interactions_7d       6",  # a text, a click, an image; a view, two texts
        "interactions_prev_7d  0",
    ]
    assert (await cli.ok("stats", "broadcasts", tenant)).split() == [
        "BROADCAST_ID",
        "RUN_ID",
        "SUBMITTED_AT",
        "UNFOLLOWS_24H",
        "BASELINE_24H",
        "LIFT",
    ]

    header, *rows = (await cli.ok("overview")).splitlines()
    assert header.split() == [
        "ID",
        "NAME",
        "FOLLOWERS_KNOWN",
        "NEW_7D",
        "LOST_7D",
        "ACTIVE_RATE_30D",
        "STATUS",
    ]
    [ours] = [row.split() for row in rows if row.split()[0] == tenant]
    assert ours == [tenant, "CLI", "stats", "3", "3", "1", "66.7%", "active"]
    ranks = ["dormant", "declining", "no_data", "active"]
    order = [ranks.index(row.split()[-1]) for row in rows]
    assert order == sorted(order)  # worst health first, as analytics ranks them

    csv = await cli.ok("stats", "daily", tenant, "--csv")
    assert csv.endswith("\r\n")  # the API's CSV as is
    lines = csv.splitlines()
    assert lines[0].startswith("date,new,lost,net,cumulative,active_readers,messages,")
    assert len(lines) == 1 + 30  # the header and the last 30 days
    assert any(line.startswith(f"{day1},2,1,1,,2,2,1,0,1,") for line in lines)


async def test_a_bad_date_or_an_unknown_tenant_is_one_line_and_exit_1(cli: Cli) -> None:
    code, out, err = await cli("stats", "daily", cli.tenant_id, "--from", "2026-02-30")
    assert (code, out) == (1, "")
    assert err == "wxp: 422 invalid: from: not a calendar date\n"  # no traceback
    code, out, err = await cli("stats", "health", "st-nobody", "--csv")
    assert (code, out, err) == (1, "", "wxp: 404 not_found: no tenant st-nobody\n")


def table_row(day: dict[str, Any]) -> list[str]:
    """What ``wxp stats daily`` shows of a day, split into words."""
    cells = [day["date"], day["new"], day["lost"], day["net"], day["cumulative"]]
    cells += [day["active_readers"], day["messages"], day["unanswered"]]
    return [str(c) for c in cells if c is not None]
