"""The webhook path end to end in one process: verify, parse, publish, reply."""

from __future__ import annotations

import time

import pytest
from aiohttp import ClientSession
from defusedxml.ElementTree import fromstring
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts.envelope import message_event_id
from shared.wechat.samples import SAMPLES
from tests.support.bus import Tap, stays_true, wait_until
from tests.support.gateway import send

REPLY_DEADLINE = 1.0  # the gateway fixture's reply_deadline_seconds (tests/gateway/conftest.py)
# "No fallback" is seen over a window the deadline and a publish fit in: an answer that
# came late would have published its reply.fallback by then.
NO_FALLBACK_WINDOW = REPLY_DEADLINE + 0.5


async def no_fallback_published(tap: Tap) -> None:
    await stays_true(
        lambda: not tap.of_type("reply.fallback"),
        seconds=NO_FALLBACK_WINDOW,
        what="no reply.fallback published",
    )


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_text_message_is_published_once_with_its_envelope(
    gateway, http, new_account, tap_factory, mode
):
    account = await new_account(mode)
    tap = await tap_factory([f"{account.tenant_id}.#"])
    answer = await send(
        http,
        gateway,
        account,
        "text",
        openid="o_alice",
        msg_id="9001",
        overrides={"Content": "价格 please"},
    )
    assert answer.status == 200
    assert answer.body == b"success"
    await wait_until(lambda: len(tap.events) == 1)
    event = tap.events[0]
    assert event.type == "msg.text"
    assert event.routing_key == f"{account.tenant_id}.msg.text"
    assert event.id == message_event_id(account.tenant_id, "9001")
    assert event.openid == "o_alice"
    assert event.payload.content == "价格 please"
    assert event.payload.account == "gh_test"


async def test_every_documented_type_becomes_an_event(gateway, http, new_account, tap_factory):
    account = await new_account("safe")
    tap = await tap_factory([f"{account.tenant_id}.#"])
    for sample in SAMPLES:
        answer = await send(http, gateway, account, sample)
        assert answer.status == 200, (sample, answer.body)
    await wait_until(lambda: len(tap.events) == len(SAMPLES))
    types = {e.type for e in tap.events}
    assert {
        "msg.text",
        "msg.image",
        "msg.voice",
        "msg.video",
        "msg.shortvideo",
        "msg.location",
        "msg.link",
        "event.subscribe",
        "event.unsubscribe",
        "event.scan",
        "event.location",
        "event.click",
        "event.view",
        "event.scancode_push",
        "event.scancode_waitmsg",
        "event.pic_sysphoto",
        "event.pic_photo_or_album",
        "event.pic_weixin",
        "event.location_select",
        "event.view_miniprogram",
        "event.masssendjobfinish",
        "event.templatesendjobfinish",
    } == types
    scenes = {e.payload.scene for e in tap.of_type("event.subscribe")}
    assert scenes == {None, "42"}
    pics = tap.of_type("event.pic_weixin")[0].payload.fields["send_pics_info"]
    assert pics["pic_list"] == [{"pic_md5_sum": "aa"}, {"pic_md5_sum": "bb"}]
    job = tap.of_type("event.masssendjobfinish")[0]
    assert job.payload.fields["sent_count"] == "75"


async def test_unknown_type_is_published_not_dropped(gateway, http, new_account, tap_factory):
    account = await new_account("plain")
    tap = await tap_factory([f"{account.tenant_id}.#"])
    answer = await send(http, gateway, account, "text", overrides={"MsgType": "hologram"})
    assert answer.status == 200
    unknown_event = await send(
        http, gateway, account, "event:CLICK", overrides={"Event": "teleport"}
    )
    assert unknown_event.status == 200
    await wait_until(lambda: len(tap.events) == 2)
    assert sorted(e.type for e in tap.events) == ["event.teleport", "msg.hologram"]


async def test_job_finish_events_are_keyed_by_msgid(gateway, http, new_account, tap_factory):
    account = await new_account("plain")
    tap = await tap_factory([f"{account.tenant_id}.event.*"])
    for _ in range(2):  # WeChat's retry of the same job report, at another CreateTime
        await send(http, gateway, account, "event:MASSSENDJOBFINISH", create_time=None)
    await wait_until(lambda: len(tap.events) >= 1)
    assert tap.events[0].id == message_event_id(account.tenant_id, "1000001625")
    await send(http, gateway, account, "event:CLICK")  # a sentinel after the retry
    await wait_until(lambda: len(tap.events) == 2)
    assert [e.type for e in tap.events] == ["event.masssendjobfinish", "event.click"]


async def test_passive_reply_comes_back_encrypted_and_signed(
    gateway, http, new_account, tap_factory
):
    account = await new_account("safe")
    tap = await tap_factory(
        [f"{account.tenant_id}.#"],
        answer=lambda e: {"type": "text", "content": f"hi {e.openid} <&>"},
    )
    answer = await send(http, gateway, account, "text", openid="o_bob")
    assert answer.status == 200
    reply = fromstring(answer.plaintext(account))
    assert reply.findtext("ToUserName") == "o_bob"
    assert reply.findtext("FromUserName") == "gh_test"
    assert reply.findtext("MsgType") == "text"
    assert reply.findtext("Content") == "hi o_bob <&>"
    assert len(tap.reply_requests) == 1
    await no_fallback_published(tap)


async def test_late_reply_falls_back_to_success_and_a_fallback_event(
    gateway, http, new_account, tap_factory
):
    account = await new_account("safe")
    tap = await tap_factory(
        [f"{account.tenant_id}.#"],
        answer=lambda e: {"type": "text", "content": "late"},
        delay=REPLY_DEADLINE + 0.5,
    )
    answer = await send(http, gateway, account, "event:subscribe", openid="o_carol")
    assert answer.status == 200
    assert answer.body == b"success"
    await wait_until(lambda: len(tap.of_type("reply.fallback")) == 1)
    fallback = tap.of_type("reply.fallback")[0]
    original = tap.of_type("event.subscribe")[0]
    assert fallback.payload.reason == "deadline"
    assert fallback.payload.event.id == original.id
    assert fallback.openid == "o_carol"


async def test_reply_none_answers_success_without_waiting(
    gateway, http: ClientSession, new_account, tap_factory
):
    account = await new_account("compatible")
    tap = await tap_factory([f"{account.tenant_id}.#"])  # answers "none", like replies with no rule
    started = time.monotonic()
    answer = await send(http, gateway, account, "event:CLICK")
    took = time.monotonic() - started
    assert answer.status == 200
    assert answer.body == b"success"
    assert len(tap.reply_requests) == 1  # the gateway asked for a reply and got "none"
    # Waiting out the deadline would take REPLY_DEADLINE at least: half of it cannot.
    assert took < REPLY_DEADLINE / 2, f"answered after {took:.3f}s"
    await wait_until(lambda: len(tap.events) == 1)
    await no_fallback_published(tap)


async def histogram_counts(http: ClientSession, base: str) -> dict[str, float]:
    """The ``_count`` of the gateway's dedup and confirm histograms, from its /metrics."""
    names = {"wxp_gateway_dedup_seconds_count", "wxp_gateway_publish_seconds_count"}
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in names
    }


async def test_a_webhook_times_its_dedup_record_and_its_confirm(
    gateway, http, new_account, tap_factory
):
    account = await new_account("safe")
    tap = await tap_factory([f"{account.tenant_id}.#"])
    before = await histogram_counts(http, gateway)
    created = int(time.time())

    for _ in range(2):  # the second is WeChat's retry: deduplicated, not published
        answer = await send(http, gateway, account, "event:VIEW", create_time=created)
        assert answer.status == 200

    await wait_until(lambda: len(tap.events) == 1)
    after = await histogram_counts(http, gateway)
    dedup, confirm = "wxp_gateway_dedup_seconds_count", "wxp_gateway_publish_seconds_count"
    assert after[dedup] - before[dedup] == 2
    assert after[confirm] - before[confirm] == 1
