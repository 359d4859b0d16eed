"""`wxp` as an operator runs it: onboard, list, and play WeChat with `simulate`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.conftest import new_appid
from tests.e2e.conftest import ADMIN_KEY


async def wxp(*args: str, url: str, key: str = ADMIN_KEY) -> tuple[int, str, str]:
    env = {**os.environ, "WXP_URL": url, "WXP_API_KEY": key}
    console_script = Path(sys.executable).with_name("wxp")  # from pyproject's [project.scripts]
    process = await asyncio.create_subprocess_exec(
        str(console_script),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode(), err.decode()


async def test_onboard_list_and_simulate_with_a_passive_reply(
    services, tap_factory, tmp_path, created_tenants
):
    gateway = await services("gateway")
    code, out, err = await wxp(
        "tenants",
        "add",
        "--name",
        "CLI 咖啡",
        "--appid",
        new_appid(),
        "--app-secret",
        "s",
        "--account-type",
        "service",
        "--encrypt-mode",
        "safe",
        "--json",
        url=gateway.url,
    )
    assert code == 0, err
    created = json.loads(out)
    created_tenants.append(created["id"])
    credentials = tmp_path / "tenant.json"
    credentials.write_text(out)

    code, out, _ = await wxp("tenants", "list", url=gateway.url)
    assert code == 0
    assert created["id"] in out
    assert "CLI 咖啡" in out
    assert created["token"] not in out

    tap = await tap_factory(
        [f"{created['id']}.#"],
        answer=lambda e: {"type": "text", "content": f"echo {e.payload.content}"},
    )
    code, out, err = await wxp(
        "simulate",
        "text",
        "--content",
        "菜单",
        "--openid",
        "o_op",
        "--credentials",
        str(credentials),
        url=gateway.url,
    )
    assert code == 0, err
    assert "-> 200" in out
    assert "signature verified" in out
    assert "Content: echo 菜单" in out
    assert "ToUserName: o_op" in out
    assert [e.payload.content for e in tap.events] == ["菜单"]

    code, out, err = await wxp(
        "simulate", "event:CLICK", "--credentials", str(credentials), url=gateway.url
    )
    assert code == 0, err
    assert "event:CLICK" in out


async def test_failures_exit_non_zero_with_the_servers_message(services):
    gateway = await services("gateway")
    code, _, err = await wxp(
        "tenants",
        "add",
        "--name",
        "x",
        "--appid",
        "bad",
        "--app-secret",
        "s",
        "--account-type",
        "service",
        "--encrypt-mode",
        "safe",
        url=gateway.url,
    )
    assert code == 1
    assert "422" in err
    assert "appid" in err
    code, _, err = await wxp("tenants", "list", url=gateway.url, key="wrong")
    assert code == 1
    assert "401" in err
    code, _, err = await wxp("tenants", "list", url="http://127.0.0.1:9")
    assert code == 1
    assert "cannot reach" in err


async def test_lifecycle_and_keys_from_the_command_line(services, created_tenants):
    gateway = await services("gateway")
    code, out, err = await wxp(
        "tenants",
        "add",
        "--name",
        "Life",
        "--appid",
        new_appid(),
        "--app-secret",
        "s",
        "--account-type",
        "subscription",
        "--encrypt-mode",
        "plain",
        "--json",
        url=gateway.url,
    )
    assert code == 0, err
    tenant = json.loads(out)
    created_tenants.append(tenant["id"])

    code, out, _ = await wxp(
        "tenants",
        "update",
        tenant["id"],
        "--name",
        "Life 2",
        "--regenerate",
        "token",
        url=gateway.url,
    )
    assert code == 0
    assert "Updated" in out
    assert "Token" in out  # the rotated token is shown, once
    code, out, _ = await wxp("tenants", "show", tenant["id"], "--json", url=gateway.url)
    assert json.loads(out)["name"] == "Life 2"
    assert "token" not in json.loads(out)

    code, out, err = await wxp(
        "keys", "create", "--tenant", tenant["id"], "--name", "staff", "--json", url=gateway.url
    )
    assert code == 0, err
    key = json.loads(out)
    code, out, _ = await wxp("tenants", "show", tenant["id"], url=gateway.url, key=key["key"])
    assert code == 0
    assert "Life 2" in out
    code, _, err = await wxp("tenants", "list", url=gateway.url, key=key["key"])
    assert code == 1
    assert "403" in err
    code, out, _ = await wxp("keys", "list", "--tenant", tenant["id"], url=gateway.url)
    assert key["id"] in out
    assert key["key"] not in out
    code, _, _ = await wxp("keys", "revoke", key["id"], "--tenant", tenant["id"], url=gateway.url)
    assert code == 0
    code, _, err = await wxp("tenants", "show", tenant["id"], url=gateway.url, key=key["key"])
    assert code == 1
    assert "401" in err

    code, out, _ = await wxp("tenants", "delete", tenant["id"], url=gateway.url)
    assert code == 0
    code, _, err = await wxp("tenants", "show", tenant["id"], url=gateway.url)
    assert code == 1
    assert "404" in err
