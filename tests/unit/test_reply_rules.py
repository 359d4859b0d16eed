"""Reply rule validation, placeholders and the random pick: pure, no fixtures."""

from __future__ import annotations

import random
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson.int64 import Int64

from services.replies.rules import (
    InvalidRule,
    Rule,
    Trigger,
    pick_reply,
    placeholder_values,
    render,
    render_text,
)
from services.replies.schedule_window import Window
from services.replies.stored_rules import MAX_ERROR, load_rules
from services.replies.validation import validate_rule
from shared.contracts.reply import Article, Reply

TEXT = {"type": "text", "content": "hi"}


def rule(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "r",
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": "exact", "pattern": "price"},
        "reply": TEXT,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def field_of(data: Any) -> str:
    with pytest.raises(InvalidRule) as caught:
        validate_rule(data)
    assert caught.value.field in str(caught.value)
    return caught.value.field


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            {"kind": "keyword", "match": "prefix", "pattern": "价格"},
            Trigger("keyword", "prefix", "价格"),
        ),
        ({"kind": "keyword", "match": "regex", "pattern": r"^\d{6}$"}, None),
        ({"kind": "subscribe"}, Trigger("subscribe")),
        ({"kind": "subscribe", "scene": "42"}, Trigger("subscribe", scene="42")),
        ({"kind": "scan", "scene": "shop"}, Trigger("scan", scene="shop")),
        ({"kind": "click", "key": "MENU_1"}, Trigger("click", key="MENU_1")),
        ({"kind": "msgtype", "msgtype": "image"}, Trigger("msgtype", msgtype="image")),
        ({"kind": "default"}, Trigger("default")),
    ],
)
def test_every_trigger_kind_validates(trigger: dict[str, Any], expected: Trigger | None) -> None:
    parsed = validate_rule(rule(trigger=trigger)).trigger
    assert parsed == (expected or Trigger("keyword", "regex", r"^\d{6}$"))


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ("price", "trigger"),
        ({}, "trigger.kind"),
        ({"kind": "telepathy"}, "trigger.kind"),
        ({"kind": "keyword", "match": "fuzzy", "pattern": "x"}, "trigger.match"),
        ({"kind": "keyword", "match": "exact"}, "trigger.pattern"),
        ({"kind": "keyword", "match": "exact", "pattern": "  "}, "trigger.pattern"),
        ({"kind": "keyword", "match": "exact", "pattern": "x" * 257}, "trigger.pattern"),
        ({"kind": "keyword", "match": "regex", "pattern": "(a"}, "trigger.pattern"),
        ({"kind": "keyword", "match": "regex", "pattern": r"(a)\1"}, "trigger.pattern"),
        ({"kind": "keyword", "match": "regex", "pattern": "(?=a)b"}, "trigger.pattern"),
        ({"kind": "subscribe", "scene": 7}, "trigger.scene"),
        ({"kind": "click"}, "trigger.key"),
        ({"kind": "msgtype", "msgtype": "hologram"}, "trigger.msgtype"),
        ({"kind": "default", "pattern": "x"}, "trigger.pattern"),
        ({"kind": "click", "key": "K", "colour": "red"}, "trigger.colour"),
    ],
)
def test_invalid_triggers_name_the_field(trigger: Any, field: str) -> None:
    assert field_of(rule(trigger=trigger)) == field


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (TEXT, Reply("text", content="hi")),
        ({"type": "image", "media_id": "m1"}, Reply("image", media_id="m1")),
        ({"type": "voice", "media_id": "m2"}, Reply("voice", media_id="m2")),
        ({"type": "video", "media_id": "v", "title": "T"}, Reply("video", media_id="v", title="T")),
        (
            {"type": "music", "thumb_media_id": "t", "music_url": "https://m.example/a.mp3"},
            Reply("music", thumb_media_id="t", music_url="https://m.example/a.mp3"),
        ),
        (
            {"type": "news", "articles": [{"title": "A", "url": "https://a.example/"}]},
            Reply("news", articles=(Article("A", "", "https://a.example/", ""),)),
        ),
    ],
)
def test_every_reply_type_validates(reply: dict[str, Any], expected: Reply) -> None:
    assert validate_rule(rule(reply=reply)).replies == (expected,)


ARTICLE = {"title": "A", "description": "d", "url": "https://a.example/", "picurl": "https://p/"}


@pytest.mark.parametrize(
    ("reply", "field"),
    [
        ({"content": "x"}, "reply.type"),
        ({"type": "gif"}, "reply.type"),
        ({"type": "text"}, "reply.content"),
        ({"type": "text", "content": ""}, "reply.content"),
        ({"type": "text", "content": "x" * 2049}, "reply.content"),
        ({"type": "text", "content": "hi {password}"}, "reply.content"),
        ({"type": "text", "content": "{0.__class__}"}, "reply.content"),
        ({"type": "text", "content": "hi", "media_id": "m"}, "reply.media_id"),
        ({"type": "image"}, "reply.media_id"),
        ({"type": "voice", "media_id": 3}, "reply.media_id"),
        ({"type": "video", "media_id": "v", "title": ""}, "reply.title"),
        ({"type": "music", "title": "x"}, "reply.thumb_media_id"),
        ({"type": "music", "thumb_media_id": "t", "music_url": "ftp://x"}, "reply.music_url"),
        ({"type": "news", "articles": []}, "reply.articles"),
        ({"type": "news", "articles": [ARTICLE] * 9}, "reply.articles"),
        ({"type": "news", "articles": [{"url": "https://a/"}]}, "reply.articles[0].title"),
        (
            {"type": "news", "articles": [ARTICLE, {**ARTICLE, "url": "javascript:x"}]},
            "reply.articles[1].url",
        ),
    ],
)
def test_invalid_replies_name_the_field(reply: dict[str, Any], field: str) -> None:
    assert field_of(rule(reply=reply)) == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"priority": "high"}, "priority"),
        ({"priority": True}, "priority"),
        ({"enabled": 1}, "enabled"),
        ({"name": None}, "name"),
        ({"replies": [TEXT]}, "reply"),
        ({"reply": None}, "reply"),
        ({"reply": None, "replies": []}, "replies"),
        ({"reply": None, "replies": [TEXT, {"type": "image"}]}, "replies[1].media_id"),
        ({"active_hours": {"start": "9:00", "end": "18:00"}}, "active_hours.start"),
        ({"active_hours": {"start": "09:00", "end": "24:00"}}, "active_hours.end"),
        ({"active_hours": {"start": "09:00", "end": "18:00", "days": [0]}}, "active_hours.days"),
        ({"active_hours": {"start": "09:00", "end": "18:00", "tz": "x"}}, "active_hours.tz"),
        ({"active_hours": "daytime"}, "active_hours"),
        ({"priorty": 3}, "priorty"),
    ],
)
def test_invalid_rules_name_the_field(changes: dict[str, Any], field: str) -> None:
    assert field_of(rule(**changes)) == field


def test_not_an_object() -> None:
    assert field_of(["rule"]) == ""


def test_a_full_rule() -> None:
    parsed = validate_rule(
        rule(
            id="r-1",
            reply=None,
            replies=[TEXT, {"type": "image", "media_id": "m"}],
            active_hours={"start": "22:00", "end": "02:00", "days": [5, 6]},
        )
    )
    assert parsed == Rule(
        name="r",
        priority=1,
        enabled=True,
        trigger=Trigger("keyword", "exact", "price"),
        replies=(Reply("text", content="hi"), Reply("image", media_id="m")),
        active_hours=Window(time(22), time(2), frozenset({5, 6})),
        id="r-1",
    )


def test_placeholders_render_in_one_safe_pass() -> None:
    values = {"openid": "o1", "keyword": "{openid}", "date": "2026-01-02", "time": "09:05"}
    template = "Hi {openid}, you said {keyword} on {date} at {time}. {{literal}} {x"
    expected = "Hi o1, you said {openid} on 2026-01-02 at 09:05. {literal} {x"
    assert render_text(template, values) == expected


def test_placeholder_values_use_the_local_time_given() -> None:
    local = datetime(2026, 3, 4, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    values = placeholder_values("o", "kw", local)
    assert values == {"openid": "o", "keyword": "kw", "date": "2026-03-04", "time": "23:30"}


def test_render_leaves_non_text_replies_alone() -> None:
    image = Reply("image", media_id="m")
    assert render(image, {"openid": "o"}) is image
    assert render(Reply("text", content="{openid}"), {"openid": "o"}).content == "o"


class Fixed:
    def __init__(self, index: int) -> None:
        self.index = index
        self.asked: list[int] = []

    def randrange(self, stop: int, /) -> int:
        self.asked.append(stop)
        return self.index


def test_random_pick_uses_the_injected_source() -> None:
    replies = [{"type": "text", "content": str(i)} for i in range(3)]
    parsed = validate_rule(rule(reply=None, replies=replies))
    source = Fixed(2)
    assert pick_reply(parsed, source).content == "2"
    assert source.asked == [3]
    rng = random.Random(7)
    assert {pick_reply(parsed, rng).content for _ in range(60)} == {"0", "1", "2"}


def test_single_reply_needs_no_randomness() -> None:
    source = Fixed(0)
    assert pick_reply(validate_rule(rule()), source).content == "hi"
    assert source.asked == []


@pytest.mark.parametrize(
    "priority", [2**31, 2**63, 2**64, -(2**31) - 1, -(2**63) - 1, 1.5, None, [1]]
)
def test_priority_is_an_int32(priority: Any) -> None:
    with pytest.raises(InvalidRule) as caught:
        validate_rule({**rule(), "priority": priority})
    assert caught.value.field == "priority"
    assert "-2147483648 to 2147483647" in caught.value.message


@pytest.mark.parametrize("priority", [2**31 - 1, -(2**31), 0, Int64(7)])
def test_priorities_within_int32_are_kept_as_plain_ints(priority: int) -> None:
    parsed = validate_rule(rule(priority=priority))
    assert (parsed.priority, type(parsed.priority)) == (priority, int)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"trigger": {"kind": ["keyword"]}}, "trigger.kind"),  # unhashable: was a TypeError
        ({"trigger": {"kind": {"k": 1}}}, "trigger.kind"),
        ({"trigger": {"kind": "keyword", "match": ["exact"], "pattern": "p"}}, "trigger.match"),
        ({"trigger": {"kind": "msgtype", "msgtype": {}}}, "trigger.msgtype"),
        ({"reply": {"type": ["text"], "content": "x"}}, "reply.type"),
        ({"reply": None, "replies": [{"type": {}}]}, "replies[0].type"),
    ],
)
def test_choices_of_the_wrong_type_name_the_field(changes: dict[str, Any], field: str) -> None:
    assert field_of(rule(**changes)) == field


def stored(rule_id: str, **changes: Any) -> dict[str, Any]:
    return {**rule(**changes), "id": rule_id}


def test_stored_rules_load_one_by_one_and_the_bad_ones_are_skipped() -> None:
    loaded = load_rules(
        [
            stored("r-good"),
            stored("r-int64", priority=Int64(2**40)),  # accepted before the bound existed
            {"id": "r-empty"},
            stored("r-kind", trigger={"kind": ["keyword"]}),
            {**stored("r-x"), "id": 7, "name": object()},  # written straight into the database
            stored("r-also-good", priority=-5),
        ]
    )

    assert [r.id for r in loaded.rules] == ["r-good", "r-also-good"]
    assert [s["id"] for s in loaded.stored] == ["r-good", "r-also-good"]
    assert [(s.rule_id, s.error.split(":")[0]) for s in loaded.skipped] == [
        ("r-int64", "priority"),
        ("r-empty", "enabled"),
        ("r-kind", "trigger.kind"),
        ("?", "name"),
    ]
    assert all(len(s.error) <= MAX_ERROR for s in loaded.skipped)


def test_a_stored_rule_that_raises_anything_is_skipped() -> None:
    class Odd(str):
        def strip(self, chars: str | None = None) -> str:
            raise RuntimeError("odd value")

    loaded = load_rules([stored("r-odd", name=Odd("x")), stored("r-good")])

    assert [r.id for r in loaded.rules] == ["r-good"]
    assert loaded.skipped[0].to_json() == {"id": "r-odd", "error": "unreadable: RuntimeError"}
