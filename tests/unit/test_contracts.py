"""The bus contracts: every payload type round-trips through bytes as itself, the wire
format is the one DESIGN documents, and what does not fit is refused with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.contracts.broadcast_events import (
    BroadcastFinished,
    BroadcastImpact,
    BroadcastSubmitted,
    SendTimeAdvice,
)
from shared.contracts.codec import DecodeError
from shared.contracts.envelope import Envelope, EnvelopeError, announce, iso, parse_iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.payloads import PLATFORM_TYPES, decode
from shared.contracts.reply import MAX_ARTICLES, Article, PassiveAnswer, Reply
from shared.contracts.reply_events import ReplyFallback, ReplySent, fallback_of, reply_sent

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def message(tenant: str = "acme") -> Envelope[WeChatMessage]:
    return Envelope(
        id="m1",
        tenant_id=tenant,
        type="msg.text",
        occurred_at="2026-12-01T11:59:59.000Z",
        received_at="2026-12-01T12:00:00.000Z",
        openid="o_r",
        payload=WeChatMessage(account="gh_a", fields={"content": "价格", "msg_id": "9"}),
    )


PLATFORM = [
    ReplySent(event_id="m1", rule_id="r1", via="customer_service"),
    BroadcastSubmitted("b1", "run1", "tag", msg_id="1000", msg_data_id="2000"),
    BroadcastSubmitted("b1", "run2", "all"),
    BroadcastFinished("b1", "run1", "1000", "send_success", 100, 90, 88, 2),
    SendTimeAdvice(hour=20, basis="default", interactions=12),
    BroadcastImpact("b1", "run1", unsubscribes=4, baseline=None, lift=None),
    BroadcastImpact("b1", "run1", unsubscribes=4, baseline=2.0, lift=2.0),
]


def test_every_platform_type_has_one_class():
    assert set(PLATFORM_TYPES) == {
        "reply.fallback",
        "reply.sent",
        "broadcast.submitted",
        "broadcast.finished",
        "analytics.send_time",
        "analytics.broadcast_impact",
    }


@pytest.mark.parametrize("payload", PLATFORM, ids=lambda p: type(p).__name__)
def test_platform_payloads_round_trip_as_their_own_class(payload):
    envelope = announce(payload, id="e1", tenant_id="acme", at=AT)
    assert envelope.type == payload.TYPE
    assert envelope.routing_key == f"acme.{payload.TYPE}"
    assert decode(envelope.to_bytes()) == envelope


def test_a_fallback_carries_its_event_typed_and_keeps_the_wire_format():
    original = message()
    fallback = fallback_of(original, "deadline", now=AT)
    wire = json.loads(fallback.to_bytes())
    assert wire["id"] == "m1-fb"
    assert wire["type"] == "reply.fallback"
    assert wire["payload"] == {"reason": "deadline", "event": json.loads(original.to_bytes())}
    decoded = decode(fallback.to_bytes())
    assert isinstance(decoded.payload, ReplyFallback)
    assert decoded.payload.event == original
    assert decoded.payload.event.payload.content == "价格"


def test_reply_sent_names_the_event_and_the_rule():
    sent = reply_sent(message(), rule_id="r7", via="passive", at=AT)
    assert sent.id == "m1-sent"
    assert json.loads(sent.to_bytes())["payload"] == {
        "event_id": "m1",
        "rule_id": "r7",
        "via": "passive",
    }


def test_a_fallback_for_another_tenants_event_is_refused_as_a_tenant_mismatch():
    forged = json.loads(fallback_of(message("victim"), "deadline", now=AT).to_bytes())
    forged["tenant_id"] = "attacker"
    with pytest.raises(EnvelopeError) as refused:
        decode(json.dumps(forged).encode())
    assert refused.value.reason == "tenant_mismatch"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff",
        b"[]",
        b"[" * 5000 + b"]" * 5000,
        b'{"v": 2}',
        json.dumps({**json.loads(message().to_bytes()), "type": "reply.unknown"}).encode(),
        json.dumps(
            {**json.loads(message().to_bytes()), "payload": {"content": "no account"}}
        ).encode(),
        json.dumps(
            {
                **json.loads(announce(PLATFORM[0], id="e", tenant_id="a", at=AT).to_bytes()),
                "payload": {"event_id": "m1", "rule_id": "r1", "via": "pigeon"},
            }
        ).encode(),
        json.dumps(
            {
                **json.loads(announce(PLATFORM[3], id="e", tenant_id="a", at=AT).to_bytes()),
                "payload": {**PLATFORM[3].to_json(), "sent": "88"},
            }
        ).encode(),
    ],
)
def test_what_does_not_decode_is_refused_as_undecodable(body):
    with pytest.raises(EnvelopeError) as refused:
        decode(body)
    assert refused.value.reason == "undecodable"


def test_replies_keep_the_documented_wire_format():
    news = Reply("news", articles=(Article("A", url="https://a"), Article("B")))
    assert news.to_json() == {
        "type": "news",
        "articles": [
            {"title": "A", "description": "", "url": "https://a", "picurl": ""},
            {"title": "B", "description": "", "url": "", "picurl": ""},
        ],
    }
    video = Reply("video", media_id="m", title="T")
    assert video.to_json() == {"type": "video", "media_id": "m", "title": "T"}
    for reply in (news, video, Reply("text", content="hi"), Reply("music", thumb_media_id="t")):
        assert Reply.from_json(reply.to_json()) == reply


def test_a_passive_answer_is_a_reply_with_its_rule_or_none():
    answer = PassiveAnswer(Reply("text", content="hi"), rule_id="r1")
    assert json.loads(answer.encode()) == {"type": "text", "content": "hi", "rule_id": "r1"}
    assert PassiveAnswer.decode(answer.encode()) == answer
    assert json.loads(PassiveAnswer().encode()) == {"type": "none"}
    assert PassiveAnswer.decode(b'{"type": "none"}') == PassiveAnswer()


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "text"},
        {"type": "text", "content": 5},
        {"type": "image"},
        {"type": "gif"},
        {"type": "news", "articles": []},
        {"type": "news", "articles": [{"title": "x"}] * (MAX_ARTICLES + 1)},
        {"type": "news", "articles": ["x"]},
        {"type": "music", "title": "no thumb"},
        ["not", "an", "object"],
    ],
)
def test_replies_that_break_the_contract_are_refused(spec):
    with pytest.raises(DecodeError):
        Reply.from_json(spec)
    with pytest.raises(DecodeError):
        PassiveAnswer.decode(json.dumps(spec).encode())


def test_envelope_times_are_utc_to_the_millisecond_whatever_zone_they_come_in() -> None:
    utc = datetime(2026, 12, 2, 9, 0, 0, 123_456, tzinfo=UTC)
    shanghai = utc.astimezone(timezone(timedelta(hours=8)))
    assert iso(utc) == iso(shanghai) == "2026-12-02T09:00:00.123Z"
    assert parse_iso(iso(utc)) == utc.replace(microsecond=123_000)
