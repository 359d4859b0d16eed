"""One worker process of the token-sharing test: its own TokenService, WeChatClient and
database client, making bursts of concurrent API calls against the fake WeChat API.

    python -m tests.support.token_worker --api-base URL --appid APPID --openid O [...]

The app secret comes from ``WXP_FAKE_APP_SECRET``, the database and master key from the
usual variables. The worker prints ``ready``, reads the start time (epoch seconds) from
stdin so that every worker starts together, then prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from shared.platform.secretbox import SecretBox
from shared.platform.storage import CONTROL_DB, Client, mongo_client, ping
from shared.wechat.client import WeChatClient
from shared.wechat.errors import WeChatError
from shared.wechat.http import WeChatHttp
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.retry import RetryPolicy
from shared.wechat.token_policy import TokenPolicy
from shared.wechat.tokens import TokenService
from tests.support.bus import eventually
from tests.support.infra import mongodb_url


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--appid", required=True)
    parser.add_argument("--openid", required=True)
    parser.add_argument("--bursts", type=int, default=27)
    parser.add_argument("--burst-size", type=int, default=10)
    parser.add_argument("--spacing", type=float, default=0.3)
    parser.add_argument("--margin", type=float, default=1.0)
    return parser.parse_args(argv)


async def call(client: WeChatClient, appid: str, openid: str, n: int) -> str | None:
    try:
        if n % 2:
            await client.user_info(appid, openid)
        else:
            payload = {"touser": openid, "msgtype": "text", "text": {"content": f"第{n}条"}}
            await client.send_custom_message(appid, payload)
    except WeChatError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def wait_for_database(mongo: Client, timeout: float = 20.0) -> None:
    """Other test runs may be restarting the local FerretDB: wait for it, bounded."""
    await eventually(lambda: ping(mongo), timeout, what="the database answering")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    secret = os.environ["WXP_FAKE_APP_SECRET"]
    registry = CollectorRegistry()
    metrics = WeChatMetrics.create(registry)
    mongo = mongo_client(mongodb_url(), app_name="wxp-token-worker")
    box = SecretBox.from_setting(os.environ["WXP_MASTER_KEY"])

    async def secret_for(_: str) -> str:
        return secret

    async with aiohttp.ClientSession() as session:
        http = WeChatHttp(
            session,
            base_url=args.api_base,
            retry=RetryPolicy(attempts=3, base=0.05, cap=0.2),
            metrics=metrics,
        )
        tokens = TokenService(
            mongo[CONTROL_DB],
            box,
            fetch=http.fetch_token,
            secret_for=secret_for,
            policy=TokenPolicy(margin_seconds=args.margin),
            metrics=metrics,
        )
        client = WeChatClient(http, tokens)
        await wait_for_database(mongo)
        print("ready", flush=True)
        start = float(await asyncio.to_thread(sys.stdin.readline))
        loop = asyncio.get_running_loop()
        begin = loop.time() + max(0.0, start - time.time())
        pending: list[asyncio.Task[str | None]] = []
        for burst in range(args.bursts):
            await asyncio.sleep(max(0.0, begin + burst * args.spacing - loop.time()))
            for i in range(args.burst_size):
                n = burst * args.burst_size + i
                pending.append(asyncio.create_task(call(client, args.appid, args.openid, n)))
        errors = [e for e in await asyncio.gather(*pending) if e is not None]
    await mongo.close()
    return {
        "ok": len(pending) - len(errors),
        "failed": len(errors),
        "errors": errors[:5],
        "refreshes": registry.get_sample_value(
            "wxp_wechat_token_refreshes_total", {"outcome": "ok"}
        )
        or 0,
    }


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    summary = asyncio.run(run(arguments(argv)))
    print(json.dumps(summary, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
