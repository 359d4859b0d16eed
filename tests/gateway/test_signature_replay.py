"""The plain signature covers the token, timestamp and nonce, not the body: a signature
captured in plain or compatible mode must not carry another body, on any replica. Two
gateways over the real database and broker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.wechat.samples import build_xml
from shared.wechat.simulator import SignedRequest, sign_request
from tests.gateway.conftest import ADMIN_KEY
from tests.support.bus import stays_true, wait_until
from tests.support.gateway import post_signed, served
from tests.support.infra import common_settings


@pytest.fixture
async def second_gateway(queue_prefix: str) -> AsyncIterator[str]:
    settings = GatewaySettings(
        common=common_settings(admin_key=ADMIN_KEY), queue_prefix=queue_prefix
    )
    async with served(create_app(settings)) as base:
        yield base


def subscribe_from(openid: str, create_time: int) -> bytes:
    return build_xml("event:subscribe", openid=openid, account="gh_test", create_time=create_time)


@pytest.mark.parametrize("mode", ["plain", "compatible"])
async def test_a_signature_carries_one_body_across_replicas(
    gateway, second_gateway, http, new_account, tap_factory, mode
):
    account = await new_account(mode)
    tap = await tap_factory([f"{account.tenant_id}.#"])
    now = int(time.time())
    genuine = sign_request(account, subscribe_from("o_reader", now), openid="o_reader")
    assert (await post_signed(http, gateway, account, genuine)).status == 200
    await wait_until(lambda: len(tap.events) == 1, what="the genuine event")

    # Compatible mode's encrypted requests carry the plain signature too: it is as good.
    captured = {name: genuine.query[name] for name in ("signature", "timestamp", "nonce")}
    forged = SignedRequest(captured, subscribe_from("o_forger", now), encrypted=False)
    for base in (second_gateway, gateway):
        answer = await post_signed(http, base, account, forged)
        assert answer.status == 403, answer.body
        assert answer.body.startswith(b"replayed_signature")

    retried = await post_signed(http, second_gateway, account, genuine)  # WeChat's retry
    assert (retried.status, retried.body) == (200, b"success")
    await stays_true(lambda: len(tap.events) == 1, 1.5, what="one event only")
    assert tap.events[0].openid == "o_reader"
