"""`wxp broadcasts` and `wxp quota` as an operator runs them: the console script against a
gateway and a scheduler as processes, and the fake WeChat API as a process that takes the
mass sends and posts their finish reports to the gateway."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.e2e.test_cli import wxp
from tests.e2e.test_scheduler import QUICK
from tests.support.bus import eventually
from tests.support.fake_wechat import FakeAdmin, running_fake
from tests.support.processes import ServiceProcess

FOLLOWERS = [f"o_follower_{n}" for n in range(40)]
RUN_ROW = re.compile(r"^r[0-9]{8}T[0-9]{6}Z .*$", re.M)  # a row of `show`'s runs table


def ahead(**delta: float) -> str:
    """A time for ``--at``, in UTC."""
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Cli:
    """``wxp`` pointed at the stack (WXP_URL the gateway, WXP_SCHEDULER_URL the scheduler)."""

    gateway: str
    tenant_id: str

    async def __call__(self, *args: str) -> tuple[int, str, str]:
        return await wxp(*args, url=self.gateway)

    async def ok(self, *args: str) -> str:
        code, out, err = await self(*args)
        assert code == 0, err
        return out

    async def ok_json(self, *args: str) -> Any:
        return json.loads(await self.ok(*args, "--json"))


@pytest.fixture
async def cli(
    services: Callable[..., Awaitable[ServiceProcess]],
    onboarded: Callable[..., Awaitable[tuple[dict[str, Any], Any]]],
    http: ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cli]:
    async with running_fake() as wechat:
        gateway = await services("gateway")
        scheduler = await services("scheduler", WECHAT_API_BASE=wechat, **QUICK)
        _, account = await onboarded(gateway.url, name="CLI broadcasts", app_secret="mass-secret")
        await FakeAdmin(http, wechat).register(
            account.appid,
            "mass-secret",
            followers=FOLLOWERS,
            webhook_url=f"{gateway.url}/wx/{account.tenant_id}",
            token=account.token,
            encoding_aes_key=account.encoding_aes_key,
            original_id="gh_e2e_cli",
            finish_delay=1.0,
        )
        monkeypatch.setenv("WXP_SCHEDULER_URL", scheduler.url)
        yield Cli(gateway.url, account.tenant_id)


async def test_broadcasts_added_from_the_command_line_go_out_and_show_finished(
    cli: Cli, tmp_path: Path
) -> None:
    tenant, at = cli.tenant_id, ahead(seconds=3)
    to_all = await cli.ok_json(
        "broadcasts",
        "add",
        tenant,
        "--name",
        "周五新品",
        "--text",
        "晚八点上线",
        "--all",
        "--at",
        at,
    )
    assert (to_all["status"], to_all["next_run_at"]) == ("scheduled", at)
    readers = tmp_path / "readers.txt"
    readers.write_text("o_follower_1\n\no_follower_2\no_follower_3\n")
    out = await cli.ok(
        "broadcasts",
        "add",
        tenant,
        "--name",
        "VIP",
        "--text",
        "hi",
        "--openids",
        str(readers),
        "--at",
        at,
    )
    [to_list] = re.findall(r"^Broadcast (b[0-9a-f]{20}): scheduled, next run ", out, re.M)

    listed = await cli.ok("broadcasts", "list", tenant)
    rows = {line.split()[0]: line for line in listed.splitlines()[1:]}
    assert set(rows) == {to_all["id"], to_list}
    assert "周五新品" in rows[to_all["id"]]
    assert "3 openids" in rows[to_list]

    async def finished() -> bool:
        page = await cli.ok_json("broadcasts", "list", tenant)
        return all(b["status"] == "finished" for b in page["broadcasts"])

    await eventually(finished, 30, "both broadcasts sent and reported")
    shown = await cli.ok("broadcasts", "show", tenant, to_all["id"])
    assert "text: 晚八点上线" in shown
    [run] = RUN_ROW.findall(shown)
    assert " finished " in run
    assert "sent 40/40" in run
    [run] = RUN_ROW.findall(await cli.ok("broadcasts", "show", tenant, to_list))
    assert "sent 3/3" in run

    quota = await cli.ok("quota", tenant)
    assert re.fullmatch(
        r"service account, period \S+: 1 used, 0 reserved of 4; next allowed \S+\n", quota
    ), quota


async def test_a_later_broadcast_is_cancelled_once_and_its_slot_freed(cli: Cli) -> None:
    tenant = cli.tenant_id
    later = await cli.ok_json(
        "broadcasts",
        "add",
        tenant,
        "--name",
        "Later",
        "--text",
        "x",
        "--all",
        "--at",
        ahead(hours=1),
    )
    assert (await cli.ok_json("quota", tenant))["reserved"] == 1

    out = await cli.ok("broadcasts", "cancel", tenant, later["id"])
    assert out == f"Broadcast {later['id']} (Later): cancelled.\n"
    code, out, err = await cli("broadcasts", "cancel", tenant, later["id"])
    assert (code, out) == (1, "")
    assert err == "wxp: 409 conflict: broadcast is cancelled\n"  # one line, no traceback

    shown = await cli.ok_json("broadcasts", "show", tenant, later["id"])
    assert (shown["status"], shown["next_run_at"]) == ("cancelled", None)

    async def slot_freed() -> bool:
        return (await cli.ok_json("quota", tenant))["reserved"] == 0

    await eventually(slot_freed, 15, "the cancelled broadcast's quota slot freed")


async def test_a_missing_openids_file_exits_1_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXP_SCHEDULER_URL", "http://127.0.0.1:9")  # it must not get that far
    missing = tmp_path / "nobody.txt"
    code, out, err = await wxp(
        "broadcasts",
        "add",
        "t0000000000",
        "--name",
        "x",
        "--text",
        "hi",
        "--openids",
        str(missing),
        "--at",
        ahead(hours=1),
        url="http://127.0.0.1:9",
    )
    assert (code, out) == (1, "")
    assert err == f"wxp: cannot read openids from {missing}: No such file or directory\n"
