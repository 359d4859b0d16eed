"""Driving a gateway as WeChat does: onboarding accounts and posting signed messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from services.gateway.dedup import SEEN
from services.gateway.marks import NOTES, NOTES_DB
from services.gateway.replays import SIGNATURES
from shared.platform.storage import CONTROL_DB, Client, delete_all
from shared.platform.supervision import awaiting
from shared.wechat.samples import build_xml
from shared.wechat.simulator import Account, SignedRequest, open_reply, sign_request
from tests.support.bus import eventually

CLOSE_SECONDS = 60.0


async def forget_tenants(mongo: Client, tenant_ids: list[str]) -> None:
    """What a gateway keeps of these tenants outside their own databases: the tenant records,
    API keys, dedup records, replay signatures, outbox and published notes. (Relay claims
    name events, not tenants; the relay's purge forgets them.)"""
    control = mongo[CONTROL_DB]
    mine = {"tenant_id": {"$in": tenant_ids}}
    for collection in (control.gateway_outbox, control.api_keys):
        await delete_all(collection, mine)
    for slices in (SEEN, SIGNATURES):
        await slices.delete_everywhere(control, mine)
    await NOTES.delete_everywhere(mongo[NOTES_DB], mine)
    await control.tenants.delete_many({"_id": {"$in": tenant_ids}})


@dataclass
class Answer:
    status: int
    body: bytes
    signed: SignedRequest

    def plaintext(self, account: Account) -> bytes:
        return open_reply(account, self.body, encrypted=self.signed.encrypted)


async def wait_ready(http: ClientSession, base: str, timeout: float = 30.0) -> None:
    """Polls /readyz until the service has all it checks: its broker, its database and its
    background loops (a gateway is ready, for WeChat, with either of the first two; a test
    wants it whole)."""

    async def ready() -> bool:
        try:
            async with http.get(f"{base}/readyz") as response:
                if response.status != 200:
                    return False
                text = await response.text()
        except OSError:
            return False
        try:
            answer = json.loads(text)
        except ValueError:  # a stand-in server's plain "ok"
            return True
        return not isinstance(answer, dict) or not answer.get("down")

    await eventually(ready, timeout, what=f"{base} ready")


@contextlib.asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """``app`` served in-process on a free local port: its base URL, once ``/readyz``
    answers 200; closed (its cleanup run) on the way out. A close that takes more than
    ``CLOSE_SECONDS`` fails, printing where every task waits."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with ClientSession() as probe:
            await wait_ready(probe, base)
        yield base
    finally:
        closing = asyncio.ensure_future(server.close())
        done, _ = await asyncio.wait((closing,), timeout=CLOSE_SECONDS)
        if not done:
            for task in asyncio.all_tasks():
                print(task, *awaiting(task), sep="\n  ", file=sys.stdout)
            raise AssertionError(f"the app did not close in {CLOSE_SECONDS}s (tasks above)")
        closing.result()


async def onboard(http: ClientSession, base: str, admin_key: str, **fields: Any) -> dict[str, Any]:
    async with http.post(
        f"{base}/api/tenants", json=fields, headers={"Authorization": f"Bearer {admin_key}"}
    ) as response:
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created


async def post_signed(
    http: ClientSession,
    base: str,
    account: Account,
    signed: SignedRequest,
    *,
    query: dict[str, str] | None = None,
) -> Answer:
    params = urllib.parse.urlencode(query if query is not None else signed.query)
    async with http.post(
        f"{base}/wx/{account.tenant_id}?{params}",
        data=signed.body,
        headers={"Content-Type": "text/xml"},
    ) as response:
        return Answer(response.status, await response.read(), signed)


async def send(
    http: ClientSession,
    base: str,
    account: Account,
    sample: str = "text",
    *,
    openid: str = "o_reader",
    msg_id: str | None = None,
    create_time: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> Answer:
    xml = build_xml(
        sample,
        openid=openid,
        account="gh_test",
        msg_id=msg_id,
        create_time=create_time or int(time.time()),
        overrides=overrides,
    )
    return await post_signed(http, base, account, sign_request(account, xml, openid=openid))
