"""`wxp rules` as an operator runs it: the console script against a gateway and a replies
service as processes; and what the operator sees when something is wrong: one line on
stderr that starts `wxp:`, a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.replies.rules import PLACEHOLDERS
from tests.e2e.conftest import ADMIN_KEY
from tests.e2e.test_cli import wxp
from tests.support.processes import ServiceProcess

HOURS_RULE = {
    "name": "opening hours",
    "priority": 5,
    "enabled": True,
    "trigger": {"kind": "keyword", "match": "exact", "pattern": "hours"},
    "reply": {"type": "text", "content": "9 to 5"},
}


@dataclass
class Cli:
    """``wxp`` pointed at the stack: WXP_URL the gateway, WXP_REPLIES_URL replies."""

    gateway: str
    tenant_id: str

    async def __call__(self, *args: str, key: str = ADMIN_KEY) -> tuple[int, str, str]:
        return await wxp(*args, url=self.gateway, key=key)

    async def ok(self, *args: str) -> str:
        code, out, err = await self(*args, "--tenant", self.tenant_id)
        assert code == 0, err
        assert err == ""
        return out

    async def ok_json(self, *args: str) -> Any:
        return json.loads(await self.ok(*args, "--json"))

    async def order(self) -> list[str]:
        return [rule["id"] for rule in (await self.ok_json("rules", "list"))["items"]]


@pytest.fixture
async def cli(
    services: Callable[..., Awaitable[ServiceProcess]],
    onboarded: Callable[..., Awaitable[tuple[dict[str, Any], Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    gateway = await services("gateway")
    replies = await services("replies")
    _, account = await onboarded(gateway.url, name="CLI rules")
    monkeypatch.setenv("WXP_REPLIES_URL", replies.url)
    monkeypatch.delenv("WXP_DEBUG", raising=False)
    return Cli(gateway.url, account.tenant_id)


async def test_rules_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    assert await cli.ok_json("rules", "list") == {"items": [], "skipped": []}
    assert (await cli.ok("rules", "list")).split() == [
        *("#", "PRIORITY", "ID", "ENABLED", "NAME", "TRIGGER", "REPLY")
    ]

    menu = await cli.ok_json("rules", "add", "--keyword", "菜单", "--text", "今天: 面")
    assert menu["trigger"] == {"kind": "keyword", "match": "contains", "pattern": "菜单"}
    assert (menu["priority"], menu["enabled"]) == (0, True)
    rule_file = tmp_path / "hours.json"
    rule_file.write_text(json.dumps(HOURS_RULE), encoding="utf-8")
    out = await cli.ok("rules", "add", "--file", str(rule_file))
    assert out.startswith("Added rule r")
    hours = out.split()[2]

    listed = (await cli.ok("rules", "list")).splitlines()
    assert [line.split()[:4] for line in listed[1:]] == [
        ["1", "5", hours, "yes"],
        ["2", "0", menu["id"], "yes"],
    ]
    assert 'contains "菜单"' in listed[2]
    assert "text: 今天: 面" in listed[2]
    assert await cli.order() == [hours, menu["id"]]

    out = await cli.ok("rules", "test", "我要看菜单")
    assert out.splitlines() == [
        f'Rule {menu["id"]} (菜单, priority 0, contains "菜单") answers:',
        "  今天: 面",
    ]
    answer = await cli.ok_json("rules", "test", "hours")
    assert (answer["rule"]["id"], answer["reply"]) == (hours, HOURS_RULE["reply"])

    change = tmp_path / "change.json"
    change.write_text('{"priority": 10, "reply": {"type": "text", "content": "今天: 饭"}}')
    assert await cli.ok("rules", "update", menu["id"], "--file", str(change)) == (
        f"Updated rule {menu['id']} (菜单).\n"
    )
    assert await cli.order() == [menu["id"], hours]
    assert "今天: 饭" in await cli.ok("rules", "test", "菜单")

    assert await cli.ok("rules", "disable", menu["id"]) == f"Disabled rule {menu['id']} (菜单).\n"
    assert await cli.ok("rules", "test", "菜单") == "No rule answers.\n"
    assert "  no  " in (await cli.ok("rules", "list")).splitlines()[1]
    assert (await cli.ok_json("rules", "enable", menu["id"]))["enabled"] is True
    assert "今天: 饭" in await cli.ok("rules", "test", "菜单")

    reordered = await cli.ok_json("rules", "reorder", hours)
    assert [rule["id"] for rule in reordered["items"]] == [hours, menu["id"]]
    assert await cli.order() == [hours, menu["id"]]
    assert f"id        {hours}" in await cli.ok("rules", "show", hours)

    assert await cli.ok("rules", "delete", hours) == f"Deleted rule {hours}.\n"
    assert await cli.order() == [menu["id"]]
    code, out, err = await cli("rules", "show", hours, "--tenant", cli.tenant_id)
    assert (code, out, err) == (1, "", f"wxp: 404 not_found: no rule {hours}\n")


async def test_a_rule_the_service_refuses_is_its_message_on_one_line(cli: Cli) -> None:
    code, out, err = await cli(
        *("rules", "add", "--tenant", cli.tenant_id, "--keyword", "(a)\\1", "--text", "t"),
        *("--match", "regex"),
    )
    assert (code, out) == (1, "")
    assert err.startswith("wxp: 422 invalid: trigger.pattern: not a supported regex")
    assert len(err.splitlines()) == 1


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A local port that is bound but not listening: connections to it are refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


async def test_what_goes_wrong_is_one_line_never_a_traceback(
    cli: Cli, tmp_path: Path, closed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    malformed = tmp_path / "rule.json"
    malformed.write_text('{"name": "menu", "priority": 1,,}')
    tenant = ("--tenant", cli.tenant_id)
    cases: list[tuple[Awaitable[tuple[int, str, str]], str]] = [
        (
            cli("simulate", "text", "--credentials", "missing.json"),
            "wxp: cannot read credentials from missing.json: No such file or directory",
        ),
        (
            cli("rules", "add", *tenant, "--file", str(malformed)),
            f"wxp: rule {malformed} is not JSON: Expecting property name",
        ),
        (cli("rules", "list", *tenant, key="wxp_not_a_key"), "wxp: 401 unauthorized: "),
    ]
    for run, expected in cases:
        code, out, err = await run
        assert code != 0, expected
        assert "Traceback" not in out + err
        assert len(err.splitlines()) == 1, err
        assert err.startswith(expected), err
    monkeypatch.setenv("WXP_REPLIES_URL", closed_url)
    code, out, err = await cli("rules", "list", *tenant)
    assert code != 0
    assert "Traceback" not in out + err
    [line] = err.splitlines()
    assert line.startswith(f"wxp: cannot reach the replies service at {closed_url} (")


async def test_the_help_names_every_placeholder_the_service_fills_in() -> None:
    code, out, err = await wxp("rules", "add", "--help", url="http://127.0.0.1:9", key="")
    assert code == 0, err
    text = " ".join(out.split())  # argparse wraps the help to the terminal's width
    for name in sorted(PLACEHOLDERS):
        assert f"{{{name}}}" in text, name
