"""``connected_at``: the gateway records when an account's first verified webhook arrived
(WeChat's URL check or a message), once, and the tenant API shows it; a webhook whose
signature does not verify records nothing."""

from __future__ import annotations

import secrets
import time
from datetime import datetime

from services.gateway.connections import Connections
from shared.platform.storage import PyMongoError
from shared.wechat.crypto import signature
from tests.gateway.conftest import ADMIN_KEY
from tests.support.bus import continually, eventually
from tests.support.gateway import send

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def connected_at(http, gateway: str, tenant_id: str) -> str | None:
    async with http.get(f"{gateway}/api/tenants/{tenant_id}", headers=ADMIN) as response:
        assert response.status == 200
        shown: str | None = (await response.json())["connected_at"]
        return shown


async def url_check(http, gateway: str, tenant_id: str, token: str) -> int:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(4)
    query = {
        "signature": signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": "echo-me",
    }
    async with http.get(f"{gateway}/wx/{tenant_id}", params=query) as response:
        return response.status


async def test_the_first_verified_url_check_is_recorded_once(gateway, http, new_account):
    account = await new_account("safe")
    assert await connected_at(http, gateway, account.tenant_id) is None

    assert await url_check(http, gateway, account.tenant_id, "not-the-token") == 403

    async def still_unconnected() -> bool:
        return await connected_at(http, gateway, account.tenant_id) is None

    await continually(still_unconnected, 0.5, what="no connected_at for a forged check")

    assert await url_check(http, gateway, account.tenant_id, account.token) == 200

    async def connected() -> bool:
        return await connected_at(http, gateway, account.tenant_id) is not None

    await eventually(connected, 10, what="connected_at recorded")
    first = await connected_at(http, gateway, account.tenant_id)
    assert (await send(http, gateway, account)).status == 200
    assert await connected_at(http, gateway, account.tenant_id) == first


async def test_a_verified_message_connects_too(gateway, http, new_account):
    account = await new_account("plain")
    assert (await send(http, gateway, account)).status == 200

    async def connected() -> bool:
        return await connected_at(http, gateway, account.tenant_id) is not None

    await eventually(connected, 10, what="connected_at recorded")


class Sink:
    """A repository that fails its first ``failures`` writes."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.writes: list[str] = []

    async def mark_connected(self, tenant_id: str, *, now: datetime) -> bool:
        self.writes.append(tenant_id)
        if self.failures:
            self.failures -= 1
            raise PyMongoError("down")
        return True


async def test_one_write_per_tenant_and_a_failed_one_is_tried_again() -> None:
    sink = Sink(failures=1)
    connections = Connections(sink)
    connections.verified("tfirst0001")
    await connections.drain()  # failed: logged, not raised
    connections.verified("tfirst0001")
    connections.verified("tfirst0001")
    connections.verified("tother0001")
    await connections.drain()
    connections.verified("tfirst0001")
    await connections.drain()
    assert sink.writes == ["tfirst0001", "tfirst0001", "tother0001"]
