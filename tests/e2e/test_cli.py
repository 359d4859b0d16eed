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
        answer=lambda e: {"type": "text", "content": f"echo {e.payload['content']}"},
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
    assert [e.payload["content"] for e in tap.events] == ["菜单"]

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
