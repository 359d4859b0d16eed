"""The customer-service window and quota, and message bodies: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.replies.customer_service import QuotaPolicy, cs_message, refusal
from shared.contracts.reply import Article, Reply

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = QuotaPolicy()


@pytest.mark.parametrize(
    ("kind", "later", "sent", "expected"),
    [
        ("msg.text", timedelta(seconds=4), 0, None),
        ("msg.text", timedelta(hours=47), 4, None),
        ("msg.text", timedelta(hours=47), 5, "quota_exhausted"),
        ("msg.text", timedelta(hours=49), 0, "outside_window"),
        ("event.click", timedelta(seconds=30), 2, None),
        ("event.subscribe", timedelta(seconds=30), 3, "quota_exhausted"),
        ("event.scan", timedelta(seconds=61), 0, "outside_window"),
    ],
)
def test_window_and_quota(kind, later, sent, expected):
    assert refusal(POLICY, kind, AT, AT + later, sent) == expected


def test_the_numbers_are_settings():
    strict = QuotaPolicy(message_window=timedelta(hours=1), message_limit=1)
    assert refusal(strict, "msg.text", AT, AT + timedelta(hours=2), 0) == "outside_window"
    assert refusal(strict, "msg.text", AT, AT, 1) == "quota_exhausted"


def test_message_bodies():
    assert cs_message("o1", Reply("text", content="hi")) == {
        "touser": "o1",
        "msgtype": "text",
        "text": {"content": "hi"},
    }
    assert cs_message("o1", Reply("image", media_id="m"))["image"] == {"media_id": "m"}
    music = cs_message("o1", Reply("music", title="t", music_url="u", thumb_media_id="th"))
    assert music["music"] == {"title": "t", "musicurl": "u", "thumb_media_id": "th"}
    video = cs_message("o1", Reply("video", media_id="v", description="d"))
    assert video["video"] == {"media_id": "v", "description": "d"}
    news = cs_message("o1", Reply("news", articles=(Article("A", url="http://a"), Article("B"))))
    assert news["news"] == {"articles": [{"title": "A", "url": "http://a"}]}
