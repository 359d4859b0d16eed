"""WeChat's retries publish nothing twice, whichever gateway replica they reach."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from defusedxml.ElementTree import fromstring

from shared.contracts.envelope import message_event_id
from shared.wechat.samples import build_xml
from shared.wechat.simulator import sign_request
from tests.e2e.conftest import ADMIN_KEY, metric_total
from tests.support.bus import eventually, stays_true, wait_until
from tests.support.gateway import post_signed, send

RELAY_INTERVAL = 0.5  # seconds between two passes of each replica's outbox relay
SETTLE = 2 * RELAY_INTERVAL + 2.0  # two relay passes and a slow confirm


async def test_same_message_to_two_replicas_yields_one_event(
    services, http, tap_factory, onboarded
):
    relay = {"WXP_RELAY_INTERVAL_SECONDS": str(RELAY_INTERVAL)}
    first = await services("gateway", **relay)
    second = await services("gateway", **relay)
    _created, account = await onboarded(first.url, name="Two replicas", encrypt_mode="safe")
    tap = await tap_factory([f"{account.tenant_id}.#"])

    now = int(time.time())
    messages = [
        build_xml("text", openid=f"o_{n}", account="gh_x", msg_id=str(7000 + n), create_time=now)
        for n in range(5)
    ]
    events = [
        build_xml("event:subscribe", openid=f"o_{n}", account="gh_x", create_time=now)
        for n in range(5)
    ]
    deliveries = []
    for xml in messages + events:
        # WeChat's first try and its retries: fresh nonce and signature each time, same body.
        for replica in (first, second, first, second):
            signed = sign_request(account, xml, openid="o")
            deliveries.append(post_signed(http, replica.url, account, signed))
    answers = await asyncio.gather(*deliveries)
    assert [a.status for a in answers] == [200] * len(deliveries)

    await wait_until(lambda: len(tap.events) >= 10)
    # Not judged when the count is reached: a second copy would come from a relay pass or a
    # late confirm, so nothing more may arrive over a window longer than those take.
    await stays_true(lambda: len(tap.events) == 10, SETTLE, what="no event published twice")
    ids = [e.id for e in tap.events]
    assert len(set(ids)) == 10
    assert {message_event_id(account.tenant_id, str(7000 + n)) for n in range(5)} <= set(ids)
    assert await metric_total(http, [first, second], "wxp_gateway_dedup_hits_total") == 30


async def test_rotated_credentials_apply_on_every_replica_at_once(
    services, http, tap_factory, onboarded
):
    first = await services("gateway")
    second = await services("gateway")
    _created, account = await onboarded(first.url, name="Rotation", encrypt_mode="plain")
    tap = await tap_factory([f"{account.tenant_id}.#"])
    for replica in (first, second):  # both replicas now hold the credentials in their caches
        assert (await send(http, replica.url, account, "event:VIEW", openid="o_warm")).status == 200

    async with http.patch(
        f"{first.url}/api/tenants/{account.tenant_id}",
        json={"token": "Rotated123"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as response:
        assert response.status == 200
    rotated = replace(account, token="Rotated123")

    # The other replica hears of the change through the broker, well before its cache expires.
    async def second_has_the_new_token() -> bool:
        answer = await send(http, second.url, rotated, "event:VIEW", openid="o_new")
        return answer.status == 200

    await eventually(second_has_the_new_token, timeout=1.0, what="the second replica rotated")
    assert (await send(http, second.url, account, "event:VIEW", openid="o_old")).status == 403
    await wait_until(lambda: any(e.openid == "o_new" for e in tap.events))


async def test_a_rule_change_reaches_every_replies_replica_within_a_second(
    services, http, onboarded
):
    gateway = await services("gateway")
    replicas = [await services("replies"), await services("replies")]
    _, account = await onboarded(gateway.url, name="Rules everywhere", encrypt_mode="safe")
    rules = f"/api/tenants/{account.tenant_id}/rules"
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    body = {
        "name": "menu",
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": "exact", "pattern": "menu"},
        "reply": {"type": "text", "content": "old menu"},
    }
    async with http.post(replicas[0].url + rules, json=body, headers=admin) as response:
        rule_id = (await response.json())["id"]

    async def contents(n: int) -> list[str]:
        answers = await asyncio.gather(
            *(
                send(
                    http,
                    gateway.url,
                    account,
                    "text",
                    openid=f"o_{i}",
                    overrides={"Content": "menu"},
                )
                for i in range(n)
            )
        )
        return [fromstring(a.plaintext(account)).findtext("Content") or "" for a in answers]

    assert set(await contents(8)) == {"old menu"}  # both replicas have compiled the old set
    changed = {**body, "reply": {"type": "text", "content": "new menu"}}
    async with http.put(
        f"{replicas[1].url}{rules}/{rule_id}", json=changed, headers=admin
    ) as response:
        assert response.status == 200

    async def every_replica_answers_new() -> bool:
        return set(await contents(8)) == {"new menu"}

    await eventually(every_replica_answers_new, timeout=1.0, what="every replica on the new rule")
    served = []
    for replica in replicas:
        async with http.get(f"{replica.url}/metrics") as response:
            served += [
                line
                for line in (await response.text()).splitlines()
                if line.startswith('wxp_replies_passive_total{outcome="rule"}')
            ]
    assert len(served) == 2
    assert all(float(line.rsplit(" ", 1)[1]) > 0 for line in served)  # both replicas answered
