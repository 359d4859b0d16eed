"""The tenant lifecycle and API keys on the in-process gateway, over the real services."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable
from datetime import UTC, datetime

import aio_pika
import pytest
from aiohttp.test_utils import TestServer
from defusedxml.ElementTree import fromstring
from pymongo.errors import AutoReconnect

from services.gateway.app import create_app
from services.gateway.dedup import SEEN, DedupStore
from services.gateway.marks import NOTES, NOTES_DB
from services.gateway.repository import OFFBOARDING, TenantRepository
from services.gateway.settings import GatewaySettings
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.topology import QueueSpec, declare_exchanges
from shared.platform.bus import Broker
from shared.platform.consumer import Consumer
from shared.platform.consumer_service import tenant_directory
from shared.platform.delivery import Delivery, Handlers
from shared.platform.directory import TenantDirectory
from shared.platform.metrics import ConsumerMetrics
from shared.platform.service import Platform
from shared.platform.slices import TimeSlices
from shared.platform.storage import CONTROL_DB, tenant_db_name
from shared.wechat.simulator import Account
from tests.conftest import new_appid
from tests.gateway.conftest import ADMIN_KEY
from tests.support.bus import eventually, wait_until
from tests.support.gateway import send, served
from tests.support.infra import amqp_url, common_settings

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
    mine = {"tenant_id": account.tenant_id}

    async def count(db: str, slices: TimeSlices) -> int:
        names = await slices.existing(mongo[db])
        return sum([await mongo[db][name].count_documents(mine) for name in names])

    async def noted() -> bool:
        return await count(NOTES_DB, NOTES) == 1

    await eventually(noted, what="the published note written")
    status, _ = await call(http, "DELETE", url, headers=bearer(key["key"]))
    assert status == 403  # a tenant key cannot offboard
    status, _ = await call(http, "DELETE", url)
    assert status == 204
    assert (await send(http, gateway, account, "event:VIEW")).status == 404
    assert tenant_db_name(account.tenant_id) not in await mongo.list_database_names()
    control = mongo[CONTROL_DB]
    assert await count(CONTROL_DB, SEEN) == 0
    assert await control.api_keys.count_documents({"tenant_id": account.tenant_id}) == 0
    assert await count(NOTES_DB, NOTES) == 0
    status, _ = await call(http, "GET", url, headers=bearer(key["key"]))
    assert status == 401
    status, _ = await call(http, "DELETE", url)
    assert status == 404


async def test_offboarding_ends_when_the_tenant_is_gone_whatever_its_event_records_meet(
    gateway, http, new_account, mongo, monkeypatch, caplog
):
    """The database fails while the gateway forgets the tenant's dedup records, after its
    record and database went: the DELETE answers 204 (a second one would find no tenant to
    finish), the dedup records are left to the next purge, and the other kinds go all the
    same."""
    account = await new_account("plain")
    assert (await send(http, gateway, account, "event:VIEW")).status == 200
    mine = {"tenant_id": account.tenant_id}

    async def notes() -> int:
        names = await NOTES.existing(mongo[NOTES_DB])
        return sum([await mongo[NOTES_DB][name].count_documents(mine) for name in names])

    async def noted() -> bool:
        return await notes() == 1

    await eventually(noted, what="the published note written")

    async def away(self: DedupStore, tenant_id: str) -> None:
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(DedupStore, "forget_tenant", away)
    url = f"{gateway}/api/tenants/{account.tenant_id}"
    status, _ = await call(http, "DELETE", url)
    assert status == 204
    assert (await call(http, "GET", url))[0] == 404
    assert await mongo[CONTROL_DB].tenants.count_documents({"_id": account.tenant_id}) == 0
    assert tenant_db_name(account.tenant_id) not in await mongo.list_database_names()
    said = f"tenant {account.tenant_id} offboarded; its data goes with the next purge"
    assert said in caplog.text
    assert await notes() == 0  # the other kinds of record went all the same
    assert (await send(http, gateway, account, "event:VIEW")).status == 404


async def test_a_database_that_fails_offboarding_midway_is_dropped_by_the_next_purge(
    infra, queue_prefix, gateway, http, new_account, mongo, monkeypatch, caplog
):
    """The database refuses the drop once the tenant's record went: 204 all the same; its
    data stays until the gateway's purge finishes the offboarding from the note the
    repository wrote first, and its id cannot be onboarded again meanwhile (the purge
    would drop the new tenant's data)."""
    account = await new_account("plain")
    tenant_id, db = account.tenant_id, tenant_db_name(account.tenant_id)
    await mongo[db].probe.insert_one({"reader": "o_kept"})

    async def away(self: TenantRepository, tenant_id: str) -> None:
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(TenantRepository, "drop_data", away)
    url = f"{gateway}/api/tenants/{tenant_id}"
    assert (await call(http, "DELETE", url))[0] == 204
    assert (await call(http, "GET", url))[0] == 404
    assert f"tenant {tenant_id} offboarded; its data goes with the next purge" in caplog.text
    assert await mongo[db].probe.count_documents({}) == 1  # not dropped, and not forgotten
    again = onboarding_of(tenant_id, "Again")
    status, refused = await call(http, "POST", f"{gateway}/api/tenants", body=again)
    assert status == 409
    assert refused["error"]["field"] == "id"
    assert "still being offboarded" in refused["error"]["message"]

    # Another tenant's offboarding under way: noted, its record not gone yet.
    live = await new_account("plain")
    live_db = mongo[tenant_db_name(live.tenant_id)]
    await live_db.probe.insert_one({"reader": "o_live"})
    notes = mongo[CONTROL_DB][OFFBOARDING]
    await notes.insert_one({"_id": live.tenant_id, "since": datetime.now(UTC)})

    monkeypatch.undo()  # the database is back; a gateway whose relay purges every 0.6 s
    settings = GatewaySettings(
        common=common_settings(admin_key=ADMIN_KEY, api_rate_per_second=1000.0, api_burst=1000.0),
        queue_prefix=queue_prefix,
        relay_interval_seconds=0.01,
        offboarding_settle_seconds=1.0,
    )
    async with served(create_app(settings)):

        async def dropped() -> bool:
            return db not in await mongo.list_database_names()

        await eventually(dropped, what="the database dropped by the purge")
        await eventually(lambda: _none(notes.find_one({"_id": tenant_id})), what="the note gone")
    assert await live_db.probe.count_documents({}) == 1  # a live tenant's note: not finished
    assert await notes.count_documents({"_id": live.tenant_id}) == 1
    await notes.delete_one({"_id": live.tenant_id})
    status, _ = await call(http, "POST", f"{gateway}/api/tenants", body=again)
    assert status == 201
    assert await mongo[db].probe.count_documents({}) == 0  # a new tenant, none of the old data
    assert (await call(http, "DELETE", url))[0] == 204


async def test_an_offboarded_tenants_database_written_late_is_dropped_while_it_settles(
    infra, queue_prefix, gateway, http, new_account, mongo
):
    """A consumer that has not heard of the offboarding yet writes to the tenant's database
    after it went: each purge drops it again while the offboarding settles, and the id can
    be onboarded again only once it has, with none of the old data."""
    account = await new_account("plain")
    tenant_id, db = account.tenant_id, tenant_db_name(account.tenant_id)
    url = f"{gateway}/api/tenants/{tenant_id}"
    assert (await call(http, "DELETE", url))[0] == 204
    assert db not in await mongo.list_database_names()
    await mongo[db].facts.insert_one({"reader": "o_late"})  # a consumer's late write
    again = onboarding_of(tenant_id, "Again")
    status, refused = await call(http, "POST", f"{gateway}/api/tenants", body=again)
    assert status == 409
    assert "still being offboarded" in refused["error"]["message"]

    async def dropped() -> bool:
        return db not in await mongo.list_database_names()

    notes = mongo[CONTROL_DB][OFFBOARDING]
    settings = GatewaySettings(  # a gateway whose relay purges every 0.6 s
        common=common_settings(admin_key=ADMIN_KEY, api_rate_per_second=1000.0, api_burst=1000.0),
        queue_prefix=queue_prefix,
        relay_interval_seconds=0.01,
        offboarding_settle_seconds=15.0,
    )
    async with served(create_app(settings)):
        await eventually(dropped, what="the late write dropped by a purge")
        await mongo[db].facts.insert_one({"reader": "o_later"})  # and one later still
        await eventually(dropped, what="the later write dropped by a purge")
        assert await notes.count_documents({"_id": tenant_id}) == 1  # settling: still noted
        await eventually(
            lambda: _none(notes.find_one({"_id": tenant_id})), timeout=30, what="settled"
        )
    status, _ = await call(http, "POST", f"{gateway}/api/tenants", body=again)
    assert status == 201
    assert await mongo[db].facts.count_documents({}) == 0
    assert (await call(http, "DELETE", url))[0] == 204


async def _none(found: Awaitable[object]) -> bool:
    return await found is None


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


async def test_requests_beyond_the_rate_get_429_with_retry_after(gateway, http, queue_prefix):
    limited = GatewaySettings(
        common=common_settings(admin_key=ADMIN_KEY, api_rate_per_second=1.0, api_burst=3.0),
        queue_prefix=queue_prefix,  # its queues are this run's, deleted at the end
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


def onboarding_of(tenant_id: str, name: str) -> dict[str, str]:
    """What POST /api/tenants takes for a new plain-mode account, its id chosen."""
    return {
        "id": tenant_id,
        "name": name,
        "appid": new_appid(),
        "app_secret": "s",
        "account_type": "service",
        "encrypt_mode": "plain",
    }


async def onboard_as(http, gateway: str, tenant_id: str, created_tenants: list[str]) -> None:
    body = onboarding_of(tenant_id, "Brand new")
    status, _ = await call(http, "POST", f"{gateway}/api/tenants", body=body)
    assert status == 201
    created_tenants.append(tenant_id)


async def test_an_unknown_tenant_is_looked_up_again_within_a_second(
    gateway, http, mongo, created_tenants
):
    # No control notices here: only the time a miss is cached for.
    directory = TenantDirectory(mongo)
    tenant_id = "new-" + secrets.token_hex(4)
    assert not await directory.exists(tenant_id)
    missed = time.monotonic()
    await onboard_as(http, gateway, tenant_id, created_tenants)

    async def known() -> bool:
        return await directory.exists(tenant_id)

    await eventually(known, timeout=1.5, what="the new tenant known")
    assert time.monotonic() - missed <= 1.2


def text_event(tenant_id: str, n: int) -> Envelope[WeChatMessage]:
    now = iso(datetime.now(UTC))
    payload = WeChatMessage(account="gh_test", fields={"content": f"hello {n}"})
    return Envelope(f"ev{n}-{tenant_id}", tenant_id, "msg.text", now, now, "o_r", payload)


async def test_a_created_tenant_is_announced_and_its_events_are_handled_at_once(
    gateway, http, amqp, queue_prefix, mongo, created_tenants
):
    # A consumer service as consumer_app wires it: its directory, on its control bus.
    platform = Platform.build("analytics", common_settings(), mongo=mongo)
    directory = tenant_directory(platform)
    notices: list[str] = []
    platform.control.on("tenant.created", notices.append)
    handled: list[str] = []

    async def record(delivery: Delivery[WeChatMessage]) -> None:
        handled.append(delivery.envelope.id)

    tenant_id = "new-" + secrets.token_hex(4)
    spec = QueueSpec(f"{queue_prefix}.directory.{secrets.token_hex(3)}", (f"{tenant_id}.#",))
    consumer = Consumer(
        spec,
        Handlers().on(WeChatMessage, record),
        metrics=ConsumerMetrics.create(platform.registry),
        tenant_exists=directory.exists,
    )
    broker = Broker(
        amqp_url(), name="test-directory", on_connect=[platform.control.setup, consumer.setup]
    )
    running = asyncio.create_task(broker.run())
    channel = await amqp.channel(publisher_confirms=True)
    try:
        await wait_until(lambda: broker.connected, what="consumer connected")
        exchange = await declare_exchanges(channel)

        async def publish(event: Envelope[WeChatMessage]) -> None:
            await exchange.publish(aio_pika.Message(event.to_bytes()), event.routing_key)

        def dropped() -> float:
            labels = {"queue": spec.name, "outcome": "dropped"}
            return platform.registry.get_sample_value("wxp_consumer_messages_total", labels) or 0

        await publish(text_event(tenant_id, 1))  # before onboarding: unknown, dropped
        await wait_until(lambda: dropped() == 1, what="the early event dropped")
        created = time.monotonic()
        await onboard_as(http, gateway, tenant_id, created_tenants)
        await wait_until(lambda: tenant_id in notices, timeout=1.0, what="tenant.created")
        await publish(text_event(tenant_id, 2))  # the miss is still fresh: only the notice helps
        await wait_until(lambda: bool(handled), timeout=1.0, what="the event handled")
        assert time.monotonic() - created < 1.0
        assert handled == [f"ev2-{tenant_id}"]
        assert dropped() == 1
    finally:
        await consumer.stop(1.0)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        for name in (spec.name, spec.dead_letter_name):
            await channel.queue_delete(name)
        await channel.close()


async def test_a_key_rotated_next_to_concurrent_renames_is_the_one_stored(
    gateway, http, new_account, tap_factory
):
    # Each round rotates the EncodingAESKey while two renames race it: the key shown to the
    # rotating caller must be the one webhooks decrypt with afterwards, and the name the
    # last rename's.
    account = await new_account("safe")
    await tap_factory([f"{account.tenant_id}.#"])
    url = f"{gateway}/api/tenants/{account.tenant_id}"
    for round_ in range(14):
        answers = await asyncio.gather(
            call(http, "PATCH", url, body={"name": f"round {round_} a"}),
            call(http, "PATCH", url, body={"regenerate": ["encoding_aes_key"]}),
            call(http, "PATCH", url, body={"name": f"round {round_} b"}),
        )
        assert [status for status, _ in answers] == [200, 200, 200], answers
        shown = answers[1][1]["encoding_aes_key"]
        rotated = Account(account.tenant_id, account.appid, account.token, shown, "safe")
        answer = await send(http, gateway, rotated, "event:VIEW", openid=f"o_round{round_}")
        assert answer.status == 200, (round_, answer.body)
        renames = sorted((answers[i][1] for i in (0, 2)), key=lambda view: view["version"])
        _, stored = await call(http, "GET", url)
        assert stored["version"] == max(view["version"] for _, view in answers)
        assert stored["name"] == renames[-1]["name"]


async def test_concurrent_rotations_are_ordered_and_none_is_lost(
    gateway, http, new_account, tap_factory
):
    # Every successful PATCH gets a version of its own; among the rotations, the latest
    # key is current, the one before it is still accepted (the grace period), and the
    # ones before that were superseded for real.
    account = await new_account("safe")
    await tap_factory([f"{account.tenant_id}.#"])
    url = f"{gateway}/api/tenants/{account.tenant_id}"
    bodies = [{"regenerate": ["encoding_aes_key"]}] * 4 + [{"timezone": "Europe/Paris"}] * 2
    answers = await asyncio.gather(*(call(http, "PATCH", url, body=body) for body in bodies))
    assert {status for status, _ in answers} <= {200, 409}, answers
    done = [view for status, view in answers if status == 200]
    versions = [view["version"] for view in done]
    assert len(set(versions)) == len(versions)  # one version per change: no two from one read
    keys = [
        view["encoding_aes_key"]
        for view in sorted(done, key=lambda v: v["version"])
        if "encoding_aes_key" in view
    ]
    assert len(keys) >= 2, answers

    def under(key: str) -> Account:
        return Account(account.tenant_id, account.appid, account.token, key, "safe")

    for n, key in enumerate(keys):
        answer = await send(http, gateway, under(key), "event:VIEW", openid=f"o_key{n}")
        expected = 200 if n >= len(keys) - 2 else 400
        assert answer.status == expected, (n, len(keys), answer.body)


async def test_a_tenant_stored_before_versions_is_changed_from_version_0(
    gateway, http, new_account, mongo
):
    account = await new_account("plain")
    tenants = mongo[CONTROL_DB].tenants
    await tenants.update_one({"_id": account.tenant_id}, {"$unset": {"version": ""}})
    url = f"{gateway}/api/tenants/{account.tenant_id}"
    assert (await call(http, "GET", url))[1]["version"] == 0
    status, changed = await call(http, "PATCH", url, body={"name": "Versioned"})
    assert (status, changed["version"], changed["name"]) == (200, 1, "Versioned")
    stored = await tenants.find_one({"_id": account.tenant_id})
    assert (stored["version"], stored["name"]) == (1, "Versioned")


@pytest.mark.parametrize("name", ["ops\nteam", "ops\x1b[31m", "x" * 101, 7])
async def test_a_key_name_off_one_line_or_too_long_is_refused_and_no_key_made(
    gateway, http, new_account, name
):
    tenant_id = (await new_account()).tenant_id
    paths = ("/api/keys", f"/api/tenants/{tenant_id}/keys")
    before = [await call(http, "GET", gateway + path) for path in paths]
    for path in paths:
        status, body = await call(http, "POST", gateway + path, body={"name": name})
        assert (status, body["error"]["field"]) == (422, "name"), (path, body)
    assert [await call(http, "GET", gateway + path) for path in paths] == before
