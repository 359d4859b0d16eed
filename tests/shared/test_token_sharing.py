"""The key property of the token service: many processes, one token refresh per expiry.

The fake WeChat API runs as its own process with 3-second tokens; four worker processes,
each with its own TokenService, WeChatClient and database client, fire bursts of ten
concurrent calls for about eight seconds (three token lifetimes). Bursts are spaced so
that none falls within 0.15 s of a refresh boundary, which makes the number of refreshes
the run needs exact: one per period, whichever process gets there first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Any

import aiohttp
import pytest

from shared.platform.storage import CONTROL_DB, Client
from shared.wechat.token_store import LEASES, TOKENS
from tests.support.fake_wechat import FakeAdmin, running_fake
from tests.support.infra import ROOT, master_key, mongodb_url

WORKERS = 4
BURSTS = 18
BURST_SIZE = 10
SPACING = 0.45  # seconds between bursts
EXPIRES_IN = 3  # seconds, as the fake issues them
MARGIN = 1.0  # refresh this long before expiry
GRACE = 1.0  # the fake honours a superseded token this long (WeChat: ~5 min)
TOKEN = "/cgi-bin/token"
INTERVAL = EXPIRES_IN - MARGIN  # a token is refreshed this long after it was fetched


@pytest.fixture
async def fake_process() -> AsyncIterator[str]:
    async with running_fake(expires_in=EXPIRES_IN, grace=GRACE) as base:
        yield base


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    stderr: IO[bytes]

    async def line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        text = (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode()
        if not text:
            self.stderr.seek(0)
            raise AssertionError(f"worker stopped: {self.stderr.read().decode()[-2000:]}")
        return text.strip()

    async def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        await self.process.stdin.drain()


async def start_worker(base: str, appid: str, secret: str, stderr: IO[bytes]) -> Worker:
    argv = ["--api-base", base, "--appid", appid, "--openid", "o_reader"]
    argv += ["--bursts", str(BURSTS), "--burst-size", str(BURST_SIZE)]
    argv += ["--spacing", str(SPACING), "--margin", str(MARGIN)]
    env = {
        **os.environ,
        "WXP_FAKE_APP_SECRET": secret,
        "MONGODB_URL": mongodb_url(),
        "WXP_MASTER_KEY": master_key(),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.token_worker",
        *argv,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )
    return Worker(process, stderr)


def expected_refreshes() -> int:
    per_period = math.ceil(INTERVAL / SPACING)  # the first burst past a refresh boundary
    assert per_period * SPACING - INTERVAL >= 0.15, "a burst would fall on a boundary"
    assert INTERVAL - (per_period - 1) * SPACING >= 0.15, "a burst would fall on a boundary"
    return math.ceil(BURSTS / per_period)


async def test_processes_share_one_token_refresh_per_expiry(
    fake_process: str, mongo: Client
) -> None:
    appid, secret = "wx" + secrets.token_hex(8), secrets.token_hex(16)
    with contextlib.ExitStack() as files:
        logs = [files.enter_context(tempfile.TemporaryFile()) for _ in range(WORKERS)]
        try:
            async with aiohttp.ClientSession() as http:
                fake = FakeAdmin(http, fake_process)
                await fake.register(appid, secret, followers=["o_reader"])
                workers = await asyncio.gather(
                    *(start_worker(fake_process, appid, secret, log) for log in logs)
                )
                assert [await w.line(30) for w in workers] == ["ready"] * WORKERS
                start = time.time() + 0.2
                for worker in workers:
                    await worker.send(f"{start}\n")
                summaries = [json.loads(await w.line(30)) for w in workers]
                codes = [await asyncio.wait_for(w.process.wait(), 10) for w in workers]
                assert codes == [0] * WORKERS
                token_calls = await fake.calls(TOKEN, appid)
                api_calls = [c for c in await fake.calls(appid=appid) if c["path"] != TOKEN]
        finally:
            for name in (TOKENS, LEASES):
                await mongo[CONTROL_DB][name].delete_many({"_id": appid})

    assert_all_calls_succeeded(summaries, api_calls)
    assert_one_refresh_per_period(summaries, token_calls, api_calls)


def assert_all_calls_succeeded(summaries: list[dict[str, Any]], api_calls: list[Any]) -> None:
    assert [(s["ok"], s["failed"]) for s in summaries] == [(BURSTS * BURST_SIZE, 0)] * WORKERS
    assert len(api_calls) == WORKERS * BURSTS * BURST_SIZE  # no call needed a second try
    assert {(c["status"], c["errcode"]) for c in api_calls} == {(200, 0)}


def assert_one_refresh_per_period(
    summaries: list[dict[str, Any]], token_calls: list[Any], api_calls: list[Any]
) -> None:
    expected = expected_refreshes()
    print(f"token requests: {len(token_calls)}, expiry periods: {expected}")
    assert len(token_calls) == expected
    assert all(c["errcode"] == 0 for c in token_calls)
    times = [c["at"] for c in token_calls]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= INTERVAL - 0.1 for gap in gaps), gaps  # never two in one period
    assert sum(s["refreshes"] for s in summaries) == expected  # each by exactly one worker
    used = {c["token_serial"] for c in api_calls}
    assert used == {c["token_serial"] for c in token_calls}  # every token fetched was used
