"""WeChat XML to envelope, and replies to XML: pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from defusedxml.ElementTree import fromstring

from services.gateway.messages import MessageError, parse_xml, snake, to_envelope, wants_reply
from services.gateway.render import render_reply
from shared.contracts.envelope import Envelope, EnvelopeError, event_event_id, message_event_id
from shared.contracts.payloads import decode
from shared.contracts.reply import Reply
from shared.wechat.samples import SAMPLES, build_xml

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def envelope_of(sample: str, **overrides: object) -> Envelope:
    xml = build_xml(
        sample,
        openid="o_r",
        account="gh_a",
        create_time=1_790_000_000,
        msg_id="123",
        overrides=dict(overrides),
    )
    return to_envelope("acme", parse_xml(xml), received_at=NOW)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("MsgId", "msg_id"),
        ("MsgID", "msg_id"),
        ("Location_X", "location_x"),
        ("ScanCodeInfo", "scan_code_info"),
        ("PicMd5Sum", "pic_md5_sum"),
        ("Label", "label"),
    ],
)
def test_snake_case(name, expected):
    assert snake(name) == expected


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_every_sample_parses_to_a_valid_envelope(sample):
    event = envelope_of(sample)
    assert decode(event.to_bytes()) == event
    assert event.openid == "o_r"
    assert event.occurred_at == "2026-09-21T14:13:20.000Z"
    assert event.received_at == "2026-11-25T12:00:00.000Z"
    assert event.payload.account == "gh_a"
    assert event.routing_key == f"acme.{event.type}"


def test_ids_follow_msgid_or_sender_time_event_key():
    assert envelope_of("text").id == message_event_id("acme", "123")
    assert envelope_of("event:MASSSENDJOBFINISH").id == message_event_id("acme", "1000001625")
    click = envelope_of("event:CLICK")
    assert click.id == event_event_id("acme", "o_r", "1790000000", "CLICK", "MENU_NEWS")
    assert envelope_of("event:CLICK", EventKey="OTHER").id != click.id
    assert message_event_id("acme", "123") != message_event_id("other", "123")


def test_scenes_nested_fields_and_lists():
    assert envelope_of("event:subscribe_qrscene").payload.scene == "42"
    assert envelope_of("event:SCAN").payload.scene == "42"
    assert envelope_of("event:subscribe").payload.scene is None
    scan = envelope_of("event:scancode_push").payload.fields
    assert scan["scan_code_info"] == {"scan_type": "qrcode", "scan_result": "1"}
    pics = envelope_of("event:pic_weixin").payload.fields["send_pics_info"]
    assert pics == {"count": "2", "pic_list": [{"pic_md5_sum": "aa"}, {"pic_md5_sum": "bb"}]}
    location = envelope_of("location").payload.fields
    assert (location["location_x"], location["label"]) == ("23.134521", "广州市天河区")


def test_unknown_types_keep_their_name():
    assert envelope_of("text", MsgType="Hologram-3D").type == "msg.hologram_3d"
    assert envelope_of("event:CLICK", Event="teleport").type == "event.teleport"


def test_which_messages_wait_for_a_passive_reply():
    assert wants_reply(envelope_of("text"))
    assert wants_reply(envelope_of("event:subscribe"))
    assert wants_reply(envelope_of("event:CLICK"))
    assert not wants_reply(envelope_of("event:VIEW"))
    assert not wants_reply(envelope_of("event:unsubscribe"))
    assert not wants_reply(envelope_of("event:TEMPLATESENDJOBFINISH"))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "bad_xml"),
        (b"<xml><a></xml>", "bad_xml"),
        (b"<notxml/>", "bad_xml"),
        (b'<!DOCTYPE x [<!ENTITY e "e">]><xml>&e;</xml>', "xml_entities"),
        (b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><xml/>', "xml_entities"),
    ],
)
def test_bad_xml_is_refused(body, reason):
    with pytest.raises(MessageError) as caught:
        parse_xml(body)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ToUserName": "a", "FromUserName": "b", "CreateTime": "1"}, "missing_field"),
        (
            {"ToUserName": "a", "FromUserName": "", "CreateTime": "1", "MsgType": "text"},
            "missing_field",
        ),
        (
            {"ToUserName": "a", "FromUserName": "b", "CreateTime": "soon", "MsgType": "text"},
            "bad_field",
        ),
        (
            {"ToUserName": "a", "FromUserName": "b", "CreateTime": "١٢", "MsgType": "text"},
            "bad_field",
        ),
    ],
)
def test_incomplete_messages_are_refused(fields, reason):
    with pytest.raises(MessageError) as caught:
        to_envelope("acme", fields, received_at=NOW)
    assert caught.value.reason == reason


def test_envelope_from_bytes_refuses_what_is_not_one():
    good = envelope_of("text")
    for bad in (b"nope", b"[]", b'{"v": 2}', good.to_bytes().replace(b'"msg.text"', b'"x.y"')):
        with pytest.raises(EnvelopeError):
            decode(bad)


def rendered(spec: dict[str, object]):
    return fromstring(render_reply(Reply.from_json(spec), envelope_of("text"), now=1_790_000_001))


def test_replies_go_back_to_the_reader_on_the_receiving_account():
    reply = rendered({"type": "text", "content": "a ]]> b <c>", "to": "someone_else"})
    assert reply.findtext("ToUserName") == "o_r"
    assert reply.findtext("FromUserName") == "gh_a"
    assert reply.findtext("CreateTime") == "1790000001"
    assert reply.findtext("Content") == "a ]]> b <c>"


def test_every_reply_type_renders():
    assert rendered({"type": "image", "media_id": "m1"}).findtext("Image/MediaId") == "m1"
    assert rendered({"type": "voice", "media_id": "m2"}).findtext("Voice/MediaId") == "m2"
    video = rendered({"type": "video", "media_id": "m3", "title": "T"})
    assert (video.findtext("Video/MediaId"), video.findtext("Video/Title")) == ("m3", "T")
    music = rendered({"type": "music", "title": "S", "thumb_media_id": "t", "music_url": "u"})
    assert (music.findtext("Music/Title"), music.findtext("Music/ThumbMediaId")) == ("S", "t")
    news = rendered({"type": "news", "articles": [{"title": "A", "url": "u1"}, {"title": "B"}]})
    assert news.findtext("ArticleCount") == "2"
    assert [i.findtext("Title") for i in news.findall("Articles/item")] == ["A", "B"]
