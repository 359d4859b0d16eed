"""What analytics keeps of an envelope: kinds, keys, local day and hour, and no content."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.analytics.facts import (
    BROADCAST,
    FOLLOW,
    INTERACTION,
    INTERACTION_EVENTS,
    OTHER,
    REPLY,
    UNFOLLOW,
    Fact,
    fact_of,
    fact_of_row,
    latest_follows,
    to_row,
)
from services.gateway.messages import to_envelope
from shared.contracts.broadcast_events import (
    BroadcastFinished,
    BroadcastImpact,
    BroadcastSubmitted,
    SendTimeAdvice,
)
from shared.contracts.envelope import Envelope, announce
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import fallback_of, reply_sent

TZ = "Asia/Shanghai"
AT = "2026-12-01T16:30:00.000Z"  # 00:30 on Wednesday 2 December in Shanghai
SECRET = "我的银行卡密码是 123456"


def wechat(
    type_: str, *, at: str = AT, id: str = "e1", openid: str = "o_a", **fields: Any
) -> Envelope[WeChatMessage]:
    return Envelope(id, "acme", type_, at, at, openid, WeChatMessage("gh_a", fields))


def kept(envelope: Envelope[Any], timezone: str = TZ) -> Fact:
    fact = fact_of(envelope, timezone)
    assert fact is not None
    return fact


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_the_day_hour_and_weekday_are_the_tenants() -> None:
    fact = kept(wechat("msg.text", content="hi"))
    assert (fact.at, fact.day, fact.hour, fact.weekday) == (utc(1, 16, 30), "2026-12-02", 0, 2)
    assert fact.at.tzinfo is UTC
    before = kept(wechat("msg.text", at="2026-12-01T15:59:59.999Z"))
    assert (before.day, before.hour, before.weekday) == ("2026-12-01", 23, 1)
    in_utc = kept(wechat("msg.text"), "UTC")
    assert (in_utc.day, in_utc.hour) == ("2026-12-01", 16)


def test_a_text_message_is_an_interaction_and_keeps_no_content() -> None:
    fact = kept(wechat("msg.text", id="m1", content=SECRET, msg_id="9"))
    assert fact == Fact(
        id="m1",
        kind=INTERACTION,
        type="msg.text",
        at=utc(1, 16, 30),
        day="2026-12-02",
        hour=0,
        weekday=2,
        openid="o_a",
    )
    doc = fact.to_doc()
    assert SECRET not in repr(doc)
    assert "123456" not in repr(doc)
    assert "9" not in {str(value) for value in doc.values()}  # not even WeChat's MsgId


@pytest.mark.parametrize(
    ("type_", "fields"),
    [
        ("msg.location", {"location_x": "31.2304", "location_y": "121.4737", "label": "上海"}),
        ("msg.link", {"title": "秘密", "url": "https://example.com/private", "description": "x"}),
        ("event.location", {"latitude": "31.2304", "longitude": "121.4737", "precision": "65"}),
        ("event.location_select", {"send_location_info": {"label": "上海", "location_x": "31"}}),
        ("event.scancode_push", {"event_key": "k", "scan_code_info": {"scan_result": "SECRET"}}),
    ],
)
def test_no_content_of_any_type_is_kept(type_: str, fields: dict[str, Any]) -> None:
    fact = kept(wechat(type_, **fields))
    stored = repr(fact.to_doc())
    for value in ("31.2304", "121.4737", "上海", "秘密", "private", "SECRET"):
        assert value not in stored


def test_the_interaction_events_are_the_issues_list() -> None:
    assert {
        "click",
        "view",
        "scan",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    } == INTERACTION_EVENTS


@pytest.mark.parametrize("name", sorted(INTERACTION_EVENTS))
def test_reader_events_are_interactions(name: str) -> None:
    fact = kept(wechat(f"event.{name}", event_key="K1"))
    assert fact.kind == INTERACTION


@pytest.mark.parametrize(
    "type_",
    ["event.location", "event.masssendjobfinish", "event.templatesendjobfinish", "event.odd"],
)
def test_location_job_finish_and_unknown_events_are_kept_as_other(type_: str) -> None:
    fact = kept(wechat(type_, event_key="K1"))
    assert (fact.kind, fact.key) == (OTHER, None)


def test_menu_keys_are_kept_for_clicks_and_views_only() -> None:
    click = kept(wechat("event.click", event_key="PRICE"))
    view = kept(wechat("event.view", event_key="https://example.com/menu"))
    scan = kept(wechat("event.scan", event_key="shop_1", scene="shop_1"))
    assert (click.kind, click.key) == (INTERACTION, "PRICE")
    assert (view.kind, view.key) == (INTERACTION, "https://example.com/menu")
    assert (scan.kind, scan.key) == (INTERACTION, None)


def test_a_subscribe_keeps_its_channel_scene() -> None:
    xml = {
        "ToUserName": "gh_a",
        "FromUserName": "o_a",
        "CreateTime": "1796142600",  # 2026-12-01T16:30:00Z
        "MsgType": "event",
        "Event": "subscribe",
        "EventKey": "qrscene_poster_2026",
        "Ticket": "gQH47joAAAAAAAAAASxodHRwOi8v",
    }
    fact = kept(to_envelope("acme", xml, received_at=utc(1, 16, 30)))
    assert (fact.kind, fact.key, fact.day) == (FOLLOW, "poster_2026", "2026-12-02")
    assert "gQH47" not in repr(fact.to_doc())
    plain = kept(wechat("event.subscribe"))
    empty = kept(wechat("event.subscribe", event_key="", scene=""))
    assert (plain.kind, plain.key, empty.key) == (FOLLOW, None, None)


def test_an_unsubscribe_is_an_unfollow() -> None:
    fact = kept(wechat("event.unsubscribe", openid="o_b"))
    assert (fact.kind, fact.openid, fact.key) == (UNFOLLOW, "o_b", None)


def test_a_sent_reply_names_the_event_it_answered() -> None:
    original = wechat("msg.text", id="m1", content=SECRET)
    sent = reply_sent(original, rule_id="r7", via="customer_service", at=utc(2, 1))
    fact = kept(sent)
    assert fact == Fact(
        id="m1-sent",
        kind=REPLY,
        type="reply.sent",
        at=utc(2, 1),
        day="2026-12-02",
        hour=9,
        weekday=2,
        openid="o_a",
        via="customer_service",
        answers="m1",
        rule_id="r7",
    )


def test_a_submitted_broadcast_names_its_run() -> None:
    payload = BroadcastSubmitted("b1", "r20261202T120000Z", "all", msg_id="1000")
    fact = kept(announce(payload, id="s1", tenant_id="acme", at=utc(2, 12)))
    assert (fact.kind, fact.broadcast_id, fact.run_id, fact.openid) == (
        BROADCAST,
        "b1",
        "r20261202T120000Z",
        "",
    )
    assert (fact.day, fact.hour) == ("2026-12-02", 20)


def test_what_analytics_does_not_keep() -> None:
    original = wechat("msg.text", id="m1", content=SECRET)
    skipped: list[Envelope[Any]] = [
        fallback_of(original, "deadline", now=utc(1, 16, 31)),
        announce(
            BroadcastFinished("b1", "r1", "1000", "send_success", 3, 3, 3, 0),
            id="f1",
            tenant_id="acme",
            at=utc(2, 1),
        ),
        announce(SendTimeAdvice(20, "default", 3), id="a1", tenant_id="acme", at=utc(2, 1)),
        announce(
            BroadcastImpact("b1", "r1", 1, None, None), id="a2", tenant_id="acme", at=utc(2, 1)
        ),
    ]
    assert [fact_of(envelope, TZ) for envelope in skipped] == [None, None, None, None]


@pytest.mark.parametrize("stamp", ["", "yesterday", "2026-13-01T00:00:00Z", "2026-12-01T16:30:00"])
def test_a_bad_occurred_at_raises_value_error(stamp: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - whatever fromisoformat says
        fact_of(wechat("msg.text", at=stamp), TZ)


def test_a_fact_round_trips_through_its_document() -> None:
    original = wechat("msg.text", id="m1")
    fact = kept(reply_sent(original, rule_id="r7", via="passive", at=utc(2, 1)))
    doc = fact.to_doc()
    assert doc["_id"] == "m1-sent"
    assert doc["at"] == utc(2, 1)
    assert "id" not in doc
    assert Fact.from_doc(doc) == fact


def test_a_stored_document_reads_back_with_a_naive_time_and_extra_fields() -> None:
    fact = kept(wechat("event.click", event_key="PRICE"))
    doc = {**fact.to_doc(), "at": datetime(2026, 12, 1, 16, 30), "tenant_id": "acme"}
    assert Fact.from_doc(doc) == fact
    sparse = {k: v for k, v in fact.to_doc().items() if v is not None}
    assert Fact.from_doc(sparse) == fact


def test_latest_follows_keeps_each_readers_latest_and_the_last_of_a_tie() -> None:
    at = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)

    def made(n: int, kind: str, openid: str, when: datetime) -> Fact:
        return Fact(f"e{n}", kind, "event", when, "2026-12-02", 0, 2, openid, key=f"k{n}")

    facts = [
        made(1, UNFOLLOW, "o_a", at + timedelta(seconds=5)),
        made(2, FOLLOW, "o_a", at),  # older, delivered later
        made(3, FOLLOW, "o_b", at),
        made(4, UNFOLLOW, "o_b", at),  # the same second: the later one given wins
        made(5, INTERACTION, "o_c", at),  # not a follow event
    ]
    latest = latest_follows(facts)
    assert {openid: fact.id for openid, fact in latest.items()} == {"o_a": "e1", "o_b": "e4"}
    assert latest_follows([]) == {}


def test_a_fact_travels_as_a_row_and_is_stored_as_it_would_be_without() -> None:
    fact = Fact(
        "e9",
        REPLY,
        "reply.sent",
        datetime(2026, 12, 1, 16, 30, 0, 123000, tzinfo=UTC),
        "2026-12-02",
        0,
        2,
        "o_a",
        via="passive",
        answers="e8",
        rule_id="r1",
    )
    row = to_row(fact)
    assert all(isinstance(value, str | int | type(None)) for value in row)
    assert fact_of_row(json.loads(json.dumps(row))) == fact
