"""The tenant lifecycle and API keys on the in-process gateway, over the real services."""

from __future__ import annotations

import time

from aiohttp.test_utils import TestServer
from defusedxml.ElementTree import fromstring

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.platform.storage import CONTROL_DB, tenant_db_name
from shared.wechat.simulator import Account
from tests.gateway.conftest import ADMIN_KEY
from tests.support.bus import wait_until
from tests.support.gateway import send
from tests.support.infra import common_settings

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def call(http, method: str, url: str, headers=ADMIN, body=None):
    async with http.request(method, url, json=body, headers=headers) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data


async def test_show_and_patch_public_fields(gateway, http, new_account):
    account = await new_account("safe")
    url = f"{gateway}/api/tenants/{account.tenant_id}"
    status, shown = await call(http, "GET", url)
    assert status == 200
    assert shown["id"] == account.tenant_id
    assert "token" not in shown
    assert "encoding_aes_key" not in shown
    status, changed = await call(
        http, "PATCH", url, body={"name": "New name", "timezone": "Europe/Berlin"}
    )
    assert status == 200
    assert (changed["name"], changed["timezone"]) == ("New name", "Europe/Berlin")
    assert "token" not in changed
    status, error = await call(http, "PATCH", url, body={"appid": "wx0000000000000000"})
    assert (status, error["error"]["field"]) == (422, "appid")
    status, error = await call(http, "PATCH", url, body={"encrypt_mode": "nope"})
    assert (status, error["error"]["field"]) == (422, "encrypt_mode")
    status, error = await call(http, "PATCH", url, body={})
    assert status == 422
    status, _ = await call(http, "GET", f"{gateway}/api/tenants/tnosuchtenant")
    assert status == 404


async def test_token_rotation_takes_effect_at_the_next_webhook(
    gateway, http, new_account, tap_factory
):
    account = await new_account("plain")
    tap = await tap_factory([f"{account.tenant_id}.#"])
    assert (await send(http, gateway, account, "event:VIEW")).status == 200  # warm the cache
    status, changed = await call(
        http, "PATCH", f"{gateway}/api/tenants/{account.tenant_id}", body={"regenerate": ["token"]}
    )
    assert status == 200
    assert changed["token"] != account.token
    rotated = Account(
        account.tenant_id, account.appid, changed["token"], account.encoding_aes_key, "plain"
    )
    assert (await send(http, gateway, account, "event:VIEW", openid="o_old")).status == 403
    assert (await send(http, gateway, rotated, "event:VIEW", openid="o_new")).status == 200
    await wait_until(lambda: any(e.openid == "o_new" for e in tap.events))
    assert not any(e.openid == "o_old" for e in tap.events)


async def test_aes_key_rotation_keeps_the_old_key_for_the_grace_period(
    gateway, http, new_account, tap_factory
):
    account = await new_account("safe")
    await tap_factory(
        [f"{account.tenant_id}.#"], answer=lambda e: {"type": "text", "content": "ok"}
    )
    status, changed = await call(
        http,
        "PATCH",
        f"{gateway}/api/tenants/{account.tenant_id}",
        body={"regenerate": ["encoding_aes_key"]},
    )
    assert status == 200
    new_key = changed["encoding_aes_key"]
    assert new_key != account.encoding_aes_key
    rotated = Account(account.tenant_id, account.appid, account.token, new_key, "safe")
    for sender in (account, rotated):  # WeChat may still send under the old key for a while
        answer = await send(http, gateway, sender, "text")
        assert answer.status == 200
        # the reply is encrypted with the key the message came with: it opens with that key
        assert fromstring(answer.plaintext(sender)).findtext("Content") == "ok"


async def test_delete_stops_webhooks_drops_data_and_keys(gateway, http, new_account, mongo):
    account = await new_account("plain")
    url = f"{gateway}/api/tenants/{account.tenant_id}"
    status, key = await call(http, "POST", f"{url}/keys", body={"name": "client"})
    assert status == 201
    await mongo[tenant_db_name(account.tenant_id)].probe.insert_one({"x": 1})
    assert (await send(http, gateway, account, "event:VIEW")).status == 200
    status, _ = await call(http, "DELETE", url, headers=bearer(key["key"]))
    assert status == 403  # a tenant key cannot offboard
    status, _ = await call(http, "DELETE", url)
    assert status == 204
    assert (await send(http, gateway, account, "event:VIEW")).status == 404
    assert tenant_db_name(account.tenant_id) not in await mongo.list_database_names()
    control = mongo[CONTROL_DB]
    assert await control.gateway_seen.count_documents({"tenant_id": account.tenant_id}) == 0
    assert await control.api_keys.count_documents({"tenant_id": account.tenant_id}) == 0
    status, _ = await call(http, "GET", url, headers=bearer(key["key"]))
    assert status == 401
    status, _ = await call(http, "DELETE", url)
    assert status == 404


async def test_keys_are_shown_once_stored_hashed_scoped_and_revocable(
    gateway, http, new_account, mongo
):
    mine, other = await new_account("plain"), await new_account("plain")
    status, key = await call(
        http, "POST", f"{gateway}/api/tenants/{mine.tenant_id}/keys", body={"name": "client staff"}
    )
    assert status == 201
    assert key["key"].startswith("wxp_")
    stored = await mongo[CONTROL_DB].api_keys.find_one({"_id": key["id"]})
    assert key["key"] not in str(stored)
    status, listed = await call(http, "GET", f"{gateway}/api/tenants/{mine.tenant_id}/keys")
    assert [k["id"] for k in listed["items"]] == [key["id"]]
    assert "key" not in listed["items"][0]

    mine_key = bearer(key["key"])
    assert (await call(http, "GET", f"{gateway}/api/tenants/{mine.tenant_id}", mine_key))[0] == 200
    status, body = await call(http, "GET", f"{gateway}/api/tenants/{other.tenant_id}", mine_key)
    assert status == 404
    assert other.appid not in str(body)
    assert (await call(http, "GET", f"{gateway}/api/tenants/tnosuchtenant", mine_key))[0] == 404
    assert (await call(http, "GET", f"{gateway}/api/tenants", mine_key))[0] == 403
    assert (await call(http, "POST", f"{gateway}/api/keys", mine_key, {"name": "x"}))[0] == 403
    status, _ = await call(
        http,
        "PATCH",
        f"{gateway}/api/tenants/{mine.tenant_id}",
        mine_key,
        {"name": "renamed by the client"},
    )
    assert status == 200

    status, _ = await call(
        http, "DELETE", f"{gateway}/api/tenants/{other.tenant_id}/keys/{key['id']}"
    )
    assert status == 404  # a key is revoked through its own tenant only
    status, _ = await call(
        http, "DELETE", f"{gateway}/api/tenants/{mine.tenant_id}/keys/{key['id']}"
    )
    assert status == 204
    assert (await call(http, "GET", f"{gateway}/api/tenants/{mine.tenant_id}", mine_key))[0] == 401


async def test_agency_keys_are_for_the_admin_to_make(gateway, http, new_account):
    status, agency = await call(http, "POST", f"{gateway}/api/keys", body={"name": "ops"})
    assert status == 201
    assert agency["scope"] == "agency"
    key = bearer(agency["key"])
    assert (await call(http, "GET", f"{gateway}/api/tenants?limit=1", key))[0] == 200
    assert (await call(http, "POST", f"{gateway}/api/keys", key, {"name": "x"}))[0] == 403
    status, listed = await call(http, "GET", f"{gateway}/api/keys")
    assert agency["id"] in [k["id"] for k in listed["items"]]
    assert (await call(http, "DELETE", f"{gateway}/api/keys/{agency['id']}"))[0] == 204
    assert (await call(http, "GET", f"{gateway}/api/tenants?limit=1", key))[0] == 401
    assert (await call(http, "DELETE", f"{gateway}/api/keys/{agency['id']}"))[0] == 404


async def test_requests_beyond_the_rate_get_429_with_retry_after(gateway, http):
    limited = GatewaySettings(
        common=common_settings(admin_key=ADMIN_KEY, api_rate_per_second=1.0, api_burst=3.0)
    )
    server = TestServer(create_app(limited), host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        statuses = []
        started = time.monotonic()
        for _ in range(5):
            async with http.get(f"{base}/api/tenants?limit=1", headers=ADMIN) as response:
                statuses.append(response.status)
                retry_after = response.headers.get("Retry-After")
        assert time.monotonic() - started < 1.0
        assert statuses[:3] == [200, 200, 200]
        assert statuses[3:] == [429, 429]
        assert retry_after == "1"
        async with http.post(f"{base}/wx/tnosuchtenant?timestamp=1&nonce=1", data=b"") as r:
            assert r.status == 404  # the webhook path has no such limit
    finally:
        await server.close()
