"""Onboarding through the agency API: validation, conflicts, secrets sealed at rest."""

from __future__ import annotations

import base64
import json
import os

import pytest

from services.gateway.app import create_app
from services.gateway.repository import TenantRepository
from services.gateway.settings import GatewaySettings
from shared.platform.secretbox import SecretBox, SecretError
from shared.platform.storage import CONTROL_DB
from tests.conftest import new_appid
from tests.gateway.conftest import ADMIN_KEY
from tests.support.infra import common_settings

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def valid(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Acme 咖啡",
        "appid": new_appid(),
        "app_secret": "sec-123",
        "account_type": "subscription",
        "encrypt_mode": "safe",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def create(http, gateway, created_tenants, body, headers=AUTH):
    async with http.post(f"{gateway}/api/tenants", json=body, headers=headers) as response:
        data = await response.json()
        if response.status == 201:
            created_tenants.append(data["id"])
        return response.status, data


async def test_onboarding_answers_what_the_console_needs_and_seals_secrets(
    gateway, http, mongo, created_tenants
):
    status, data = await create(http, gateway, created_tenants, valid())
    assert status == 201
    assert {
        "id",
        "webhook_url",
        "token",
        "encoding_aes_key",
        "name",
        "appid",
        "account_type",
        "encrypt_mode",
        "timezone",
        "created_at",
    } <= set(data)
    assert "app_secret" not in data
    assert data["webhook_url"] == f"http://wx.test/wx/{data['id']}"
    assert len(data["token"]) == 32
    assert data["token"].isalnum()
    assert len(data["encoding_aes_key"]) == 43
    assert data["encoding_aes_key"].isalnum()
    assert data["timezone"] == "Asia/Shanghai"
    stored = json.dumps(await mongo[CONTROL_DB].tenants.find_one({"_id": data["id"]}), default=str)
    for secret in (data["token"], data["encoding_aes_key"], "sec-123"):
        assert secret not in stored

    async with http.get(f"{gateway}/api/tenants?limit=200", headers=AUTH) as response:
        assert response.status == 200
        listing = await response.text()
    assert data["id"] in listing
    for secret in (data["token"], data["encoding_aes_key"], "sec-123", "secrets"):
        assert secret not in listing


async def test_given_token_and_key_are_kept(gateway, http, created_tenants):
    key = "A" * 42 + "E"
    status, data = await create(
        http,
        gateway,
        created_tenants,
        valid(
            token="tok123",
            encoding_aes_key=key,
            id="acme-1a" + os.urandom(2).hex(),
            timezone="Europe/Paris",
            encrypt_mode="plain",
        ),
    )
    assert status == 201
    assert (data["token"], data["encoding_aes_key"], data["timezone"]) == (
        "tok123",
        key,
        "Europe/Paris",
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Acme\nCoffee"}, "name"),
        ({"name": "Acme\x85"}, "name"),
        ({"appid": "nope"}, "appid"),
        ({"app_secret": 7}, "app_secret"),
        ({"account_type": "enterprise"}, "account_type"),
        ({"encrypt_mode": "AES"}, "encrypt_mode"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"token": "no spaces allowed"}, "token"),
        ({"encoding_aes_key": "short"}, "encoding_aes_key"),
        ({"id": "Bad_ID"}, "id"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_invalid_fields_are_named(gateway, http, mongo, created_tenants, overrides, field):
    body = valid(**overrides)
    status, data = await create(http, gateway, created_tenants, body)
    assert status == 422
    assert data["error"]["code"] == "invalid"
    assert data["error"]["field"] == field
    assert await mongo[CONTROL_DB].tenants.count_documents({"appid": body["appid"]}) == 0


async def test_conflicts_and_auth(gateway, http, created_tenants):
    body = valid()
    assert (await create(http, gateway, created_tenants, body))[0] == 201
    status, data = await create(http, gateway, created_tenants, valid(appid=body["appid"]))
    assert (status, data["error"]["field"]) == (409, "appid")
    fixed_id = "dup-" + os.urandom(3).hex()
    assert (await create(http, gateway, created_tenants, valid(id=fixed_id)))[0] == 201
    status, data = await create(http, gateway, created_tenants, valid(id=fixed_id))
    assert (status, data["error"]["field"]) == (409, "id")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        status, data = await create(http, gateway, created_tenants, valid(), headers=headers)
        assert status == 401
        assert data["error"]["code"] == "unauthorized"
    async with http.get(f"{gateway}/api/tenants") as response:
        assert response.status == 401


async def test_bad_json_and_content_type(gateway, http):
    for data, content_type, status in (
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b"{" + b" " * 2_000_000 + b"}", "application/json", 413),
    ):
        async with http.post(
            f"{gateway}/api/tenants", data=data, headers={**AUTH, "Content-Type": content_type}
        ) as response:
            assert response.status == status
            assert "error" in await response.json()


async def test_listing_pages(gateway, http, created_tenants):
    mine = []
    for _ in range(3):
        status, data = await create(http, gateway, created_tenants, valid())
        assert status == 201
        mine.append(data["id"])
    seen: list[str] = []
    after = ""
    while True:
        url = f"{gateway}/api/tenants?limit=2" + (f"&after={after}" if after else "")
        async with http.get(url, headers=AUTH) as response:
            page = await response.json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        after = page["next_after"]
        if not after:
            break
    assert seen == sorted(seen)
    assert set(mine) <= set(seen)
    async with http.get(f"{gateway}/api/tenants?limit=0", headers=AUTH) as response:
        assert response.status == 422


def test_starting_without_a_master_key_fails_clearly():
    settings = GatewaySettings(common=common_settings(master_key=""))
    with pytest.raises(SecretError, match="WXP_MASTER_KEY is not set"):
        create_app(settings)


async def test_a_wrong_master_key_is_detected(gateway, mongo):
    wrong = SecretBox(base64.b64decode(base64.b64encode(os.urandom(32))))
    with pytest.raises(SecretError, match="not the key"):
        await TenantRepository(mongo, wrong).prepare()
