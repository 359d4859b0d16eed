"""The rules page's pure parts: the form to and from rule JSON, the API's field errors on
the form's inputs, the rules in words, moves, and the dry run's message and outcome."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.console.backend import BackendError
from services.gateway.console.i18n import catalog
from services.gateway.console.rules_form import (
    RuleForm,
    dry_run_message,
    errors_of,
    form_field,
    last_priority,
    moved,
)
from services.gateway.console.rules_text import TEXT
from services.gateway.console.rules_view import (
    dry_run_of,
    match_text,
    replies_text,
    rows_of,
)
from services.replies.validation import validate_rule

ZH = catalog([TEXT]).translator("zh")
EN = catalog([TEXT]).translator("en")


def keyword(pattern: str = "hello", match: str = "contains", **more: Any) -> dict[str, Any]:
    return {
        "id": "r0123456789ab",
        "name": f"say {pattern}",
        "priority": 0,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": match, "pattern": pattern},
        "reply": {"type": "text", "content": "Hi {openid}"},
        **more,
    }


@pytest.mark.parametrize(
    ("form", "trigger"),
    [
        (
            {"trigger": "contains", "pattern": "hi"},
            {"kind": "keyword", "match": "contains", "pattern": "hi"},
        ),
        (
            {"trigger": "regex", "pattern": "^a+$"},
            {"kind": "keyword", "match": "regex", "pattern": "^a+$"},
        ),
        ({"trigger": "subscribe", "pattern": "ignored"}, {"kind": "subscribe"}),
        ({"trigger": "click", "pattern": " MENU_1 "}, {"kind": "click", "key": "MENU_1"}),
    ],
)
def test_the_form_makes_a_rule_the_replies_service_accepts(
    form: dict[str, str], trigger: dict[str, str]
) -> None:
    made = RuleForm.from_form({**form, "name": "", "reply": "Welcome", "enabled": "1"})
    rule = made.new_rule(priority=-3)
    assert rule["trigger"] == trigger
    assert rule["reply"] == {"type": "text", "content": "Welcome"}
    assert rule["enabled"] is True
    assert rule["priority"] == -3
    assert rule["name"]  # a blank name takes the keyword (or the event)
    validate_rule(rule)


def test_an_unchecked_box_makes_a_disabled_rule_and_a_given_name_is_kept() -> None:
    made = RuleForm.from_form({"name": " Greeting ", "trigger": "exact", "pattern": "hi"})
    assert made.new_rule(0)["enabled"] is False
    assert made.change()["name"] == "Greeting"


def test_a_stored_rule_shows_in_the_form_when_the_form_can_hold_all_of_it() -> None:
    assert RuleForm.of_rule(keyword("hi", "prefix")) == RuleForm(
        "say hi", "prefix", "hi", "Hi {openid}", True
    )
    click = {**keyword(), "trigger": {"kind": "click", "key": "K1"}, "enabled": False}
    assert RuleForm.of_rule(click) == RuleForm("say hello", "click", "K1", "Hi {openid}", False)
    scene = {**keyword(), "trigger": {"kind": "subscribe", "scene": "42"}}
    hours = keyword(active_hours={"start": "09:00", "end": "18:00"})
    image = {**keyword(), "reply": {"type": "image", "media_id": "m1"}}
    several = {k: v for k, v in keyword().items() if k != "reply"} | {
        "replies": [{"type": "text", "content": "a"}, {"type": "text", "content": "b"}]
    }
    msgtype = {**keyword(), "trigger": {"kind": "msgtype", "msgtype": "image"}}
    for rule in (scene, hours, image, several, msgtype):
        assert RuleForm.of_rule(rule) is None


@pytest.mark.parametrize(
    ("api_field", "form"),
    [
        ("trigger.pattern", "pattern"),
        ("trigger.key", "pattern"),
        ("trigger.match", "trigger"),
        ("name", "name"),
        ("reply.content", "reply"),
        ("priority", "form"),
        (None, "form"),
    ],
)
def test_an_api_error_lands_next_to_its_input(api_field: str | None, form: str) -> None:
    assert form_field(api_field) == form


def test_the_services_words_are_kept_without_the_field_name() -> None:
    error = BackendError(
        422, "invalid", "trigger.pattern: not a supported regex", "trigger.pattern"
    )
    assert errors_of(error) == {"pattern": "not a supported regex"}
    assert errors_of(BackendError(422, "too_many_rules", "at most 3")) == {"form": "at most 3"}


def test_a_new_rule_goes_last() -> None:
    assert last_priority([]) == 0
    assert last_priority([keyword(priority=3), keyword(priority=1)]) == 1
    assert last_priority([keyword(priority=0), keyword(priority=-5)]) == -5


def test_moves_stay_within_the_list() -> None:
    assert moved(["a", "b", "c"], "c", -1) == ["a", "c", "b"]
    assert moved(["a", "b", "c"], "a", 1) == ["b", "a", "c"]
    assert moved(["a", "b", "c"], "a", -1) == ["a", "b", "c"]
    assert moved(["a", "b", "c"], "c", 1) == ["a", "b", "c"]
    assert moved(["a", "b"], "zz", 1) == ["a", "b"]


def test_what_a_rule_matches_in_words() -> None:
    assert match_text(keyword("hello"), ZH) == "包含“hello”"
    assert match_text(keyword("hello", "exact"), EN) == "is exactly “hello”"
    assert match_text(keyword("^a{2}$", "regex"), EN) == "matches regex ^a{2}$"
    scene = {**keyword(), "trigger": {"kind": "subscribe", "scene": "42"}}
    assert match_text(scene, EN) == "follows via QR scene 42"
    assert match_text({**keyword(), "trigger": {"kind": "click", "key": "K1"}}, ZH) == "点击菜单 K1"
    assert match_text({**keyword(), "trigger": {"kind": "default"}}, EN) == "any other message"
    hours = keyword(active_hours={"start": "09:00", "end": "18:00", "days": [1, 7]})
    assert match_text(hours, EN) == "contains “hello” (only 09:00–18:00 Mon Sun)"


def test_the_reply_in_words() -> None:
    assert replies_text(keyword(), EN) == "Text: Hi {openid}"
    long = {**keyword(), "reply": {"type": "text", "content": "x" * 100}}
    assert replies_text(long, ZH) == "文本：" + "x" * 59 + "…"
    news = {**keyword(), "reply": {"type": "news", "articles": [{"title": "A", "url": "u"}]}}
    assert replies_text(news, EN) == "News: A"
    several = {"replies": [{"type": "text", "content": "a"}, {"type": "image", "media_id": "m"}]}
    assert replies_text(several, EN) == "one of 2 replies"


def test_rows_in_order_with_positions() -> None:
    image = {**keyword("b"), "id": "r000000000002", "reply": {"type": "image", "media_id": "m1"}}
    rows = rows_of([keyword("a"), {**image, "enabled": False}], EN)
    assert [(r.position, r.name, r.enabled, r.editable) for r in rows] == [
        (1, "say a", True, True),
        (2, "say b", False, False),
    ]


def test_the_dry_run_message() -> None:
    assert dry_run_message("text", "hello there") == {"msgtype": "text", "content": "hello there"}
    assert dry_run_message("subscribe", "") == {"event": "subscribe"}
    assert dry_run_message("click", " K1 ") == {"event": "CLICK", "event_key": "K1"}


def test_the_dry_run_outcome() -> None:
    answer = {"rule": keyword(), "reply": {"type": "text", "content": "Hi o_dry_run"}}
    shown = dry_run_of("text", "hello there", answer, EN)
    assert shown.answered is True
    assert shown.who == "Answered by: say hello (contains “hello”)"
    assert shown.said == "Hi o_dry_run"
    nothing = dry_run_of("text", "bye", {"rule": None, "reply": None}, ZH)
    assert nothing.answered is False
    assert nothing.text == "bye"
