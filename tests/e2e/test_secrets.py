"""Secrets never reach logs or metrics: a full run at DEBUG, then a grep."""

from __future__ import annotations

from tests.conftest import new_appid
from tests.e2e.conftest import ADMIN_KEY
from tests.support.gateway import send
from tests.support.infra import master_key

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_no_secret_in_any_log_or_metric(services, http, tap_factory, onboarded):
    running = [
        await services(name, LOG_LEVEL="DEBUG")
        for name in ("gateway", "replies", "scheduler", "analytics")
    ]
    gateway = running[0]
    app_secret = "AppSecret" + new_appid()
    created, account = await onboarded(
        gateway.url, name="Secretive", encrypt_mode="safe", app_secret=app_secret
    )
    await tap_factory(
        [f"{account.tenant_id}.#"], answer=lambda e: {"type": "text", "content": "hi"}
    )
    secrets = {master_key(), ADMIN_KEY, app_secret, created["token"], created["encoding_aes_key"]}

    for sample in ("text", "event:subscribe", "event:VIEW"):
        assert (await send(http, gateway.url, account, sample)).status == 200
    url = f"{gateway.url}/api/tenants/{account.tenant_id}"
    async with http.patch(
        url,
        json={"regenerate": ["token", "encoding_aes_key"], "app_secret": app_secret + "2"},
        headers=ADMIN,
    ) as response:
        rotated = await response.json()
    secrets |= {rotated["token"], rotated["encoding_aes_key"], app_secret + "2"}
    async with http.post(f"{url}/keys", json={"name": "client"}, headers=ADMIN) as response:
        secrets.add((await response.json())["key"])
    for bad in ("Bearer " + rotated["token"], "Bearer wxp_000000000000_" + "x" * 32):
        async with http.get(url, headers={"Authorization": bad}) as response:
            assert response.status == 401
    assert (await send(http, gateway.url, account, "text")).status == 403  # the old token

    texts = []
    for service in running:
        async with http.get(f"{service.url}/metrics") as response:
            texts.append(await response.text())
    for service in running:
        assert service.terminate() == 0
        texts.append(service.log())
    everything = "\n".join(texts)
    assert "webhook" in everything or "listening" in everything  # the logs are really there
    for secret in secrets:
        assert secret not in everything
