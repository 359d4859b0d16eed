"""WeChat XML to envelope, and replies to XML: pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime

import hypothesis
import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import strategies as st

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


# --- hostile XML: bounded before anything recurses, every failure a MessageError -------------


def nested(depth: int) -> bytes:
    """``<xml>`` with ``depth`` levels in all (WeChat's deepest message has 5)."""
    return b"<xml>" + b"<a>" * (depth - 1) + b"x" + b"</a>" * (depth - 1) + b"</xml>"


@pytest.mark.parametrize("depth", [9, 100, 5_000])
def test_xml_nested_deeper_than_any_wechat_message_is_refused(depth):
    with pytest.raises(MessageError) as caught:
        parse_xml(nested(depth))
    assert caught.value.reason == "too_deep"
    assert len(str(caught.value)) < 200


def test_xml_as_deep_as_the_bound_parses():
    fields = parse_xml(nested(8))
    for _ in range(6):
        fields = fields["a"]
    assert fields == {"a": "x"}


def test_xml_with_too_many_elements_is_refused():
    with pytest.raises(MessageError) as caught:
        parse_xml(b"<xml>" + b"<a/>" * 5_000 + b"</xml>")
    assert caught.value.reason == "too_many_elements"


@pytest.mark.parametrize(
    "create_time",
    ["999999999999", "1000000000000", "100000000000000000000", "-1", "4294967296", "+1"],
    ids=["year-33658", "1e12", "1e20", "negative", "2^32", "plus-sign"],
)
def test_create_time_out_of_range_is_a_bad_field(create_time):
    fields = {"ToUserName": "a", "FromUserName": "b", "CreateTime": create_time, "MsgType": "text"}
    with pytest.raises(MessageError) as caught:
        to_envelope("acme", fields, received_at=NOW)
    assert caught.value.reason == "bad_field"


def test_create_time_at_the_bound_is_accepted():
    fields = {"ToUserName": "a", "FromUserName": "b", "CreateTime": "4294967295", "MsgType": "text"}
    assert to_envelope("acme", fields, received_at=NOW).occurred_at == "2106-02-07T06:28:15.000Z"


@pytest.mark.parametrize("name", ["ToUserName", "FromUserName", "MsgType"])
def test_header_fields_longer_than_wechat_sends_are_refused(name):
    fields = {"ToUserName": "a", "FromUserName": "b", "CreateTime": "1", "MsgType": "text"}
    fields[name] = "x" * 129
    with pytest.raises(MessageError) as caught:
        to_envelope("acme", fields, received_at=NOW)
    assert caught.value.reason == "bad_field"


XML_PIECES = st.sampled_from(
    [
        "<xml>",
        "</xml>",
        "<a>",
        "</a>",
        "<item>",
        "</item>",
        "<MsgType>",
        "</MsgType>",
        "<CreateTime>",
        "</CreateTime>",
        "<ToUserName>",
        "</ToUserName>",
        "<FromUserName>",
        "</FromUserName>",
        "<MsgId>",
        "</MsgId>",
        "<Event>",
        "</Event>",
        "<EventKey>",
        "</EventKey>",
        "<![CDATA[",
        "]]>",
        "&amp;",
        "&#0;",
        "&#x1F600;",
        "<!-- c -->",
        "<?pi x?>",
        '<?xml version="1.0" encoding="nope"?>',
        '<?xml version="1.0"?>',
        "<!DOCTYPE xml>",
        "<a:b xmlns:a='u'>",
        "</a:b>",
        "<x y='1' y='2'/>",
        "\x00",
        "\ud7ff",
        "text",
        "17",
        "-1",
        "99999999999999999999",
        "event",
        " ",
        "\n",
    ]
)


REASONS = {"bad_xml", "xml_entities", "too_deep", "too_many_elements", "missing_field", "bad_field"}


def outcome(body: bytes) -> str:
    """ "envelope" when the body makes one (and it round-trips), else the refusal's reason:
    never any other exception."""
    try:
        envelope = to_envelope("acme", parse_xml(body), received_at=NOW)
    except MessageError as exc:
        return exc.reason
    assert decode(envelope.to_bytes()) == envelope
    return "envelope"


@hypothesis.settings(max_examples=400, derandomize=True, database=None, deadline=None)
@hypothesis.given(
    pieces=st.lists(XML_PIECES, max_size=40), encoding=st.sampled_from(["utf-8", "utf-16"])
)
def test_any_body_is_an_envelope_or_a_message_error(pieces, encoding):
    body = "".join(pieces).encode(encoding, errors="surrogatepass")
    assert outcome(body) in {*REASONS, "envelope"}


@hypothesis.settings(max_examples=200, derandomize=True, database=None, deadline=None)
@hypothesis.given(body=st.binary(max_size=300))
def test_any_bytes_are_an_envelope_or_a_message_error(body):
    assert outcome(body) in {*REASONS, "envelope"}
