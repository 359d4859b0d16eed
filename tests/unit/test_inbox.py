"""The reader inbox's pure rules: what goes in, the window left, which status may become
which, and what the API takes as a page or a reply."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from services.replies.inbox import (
    ANSWERED,
    CLOSED,
    FAILED,
    OPEN,
    REPLYING,
    NotOpen,
    WindowClosed,
    check_answerable,
    new_item,
    public,
    to_close,
    window_left,
)
from services.replies.inbox_api import note_of, page_query, reply_of
from services.replies.settings import RepliesSettings
from shared.contracts.reply import Reply
from shared.platform.settings import SettingsError
from shared.platform.web import ApiError
from tests.support.fakes import message

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=48)


def test_a_readers_message_becomes_an_open_item_with_its_48_hour_window() -> None:
    event = message("m1", content="有人吗?", occurred=T0)

    item = new_item(event, WINDOW, T0 + timedelta(seconds=2))

    assert item is not None
    assert item["_id"] == "m1"
    assert (item["type"], item["status"], item["openid"]) == ("msg.text", OPEN, "o_reader")
    assert item["message"] == {"content": "有人吗?"}
    assert item["window_ends_at"] == T0 + WINDOW
    assert item["recorded_at"] == T0 + timedelta(seconds=2)


def test_a_media_message_keeps_what_a_person_needs_and_an_event_stays_out() -> None:
    fields = {"media_id": "m-9", "pic_url": "http://x/p.jpg", "msg_id": "123", "extra": {"a": 1}}
    image = message("m2", kind="msg.image", fields=fields, occurred=T0)

    item = new_item(image, WINDOW, T0)

    assert item is not None
    assert item["message"] == {"media_id": "m-9", "pic_url": "http://x/p.jpg"}
    assert new_item(message("e1", kind="event.click", occurred=T0), WINDOW, T0) is None


@pytest.mark.parametrize(
    ("after", "left"),
    [
        (timedelta(0), 48 * 3600),
        (timedelta(hours=47, minutes=59, seconds=59, milliseconds=500), 0),
        (timedelta(hours=47, minutes=59), 60),
        (WINDOW, 0),
        (WINDOW + timedelta(days=3), 0),
    ],
)
def test_the_window_left_counts_whole_seconds_down_to_zero(after: timedelta, left: int) -> None:
    assert window_left(T0 + WINDOW, T0 + after) == left


def test_an_open_item_within_its_window_may_be_answered() -> None:
    check_answerable("m1", OPEN, T0 + WINDOW, T0 + WINDOW)  # the last instant still counts
    check_answerable("m1", REPLYING, T0 + WINDOW, T0)  # goes on, to settle a stuck answer


@pytest.mark.parametrize("status", [ANSWERED, CLOSED, FAILED])
def test_an_item_past_open_is_not_answered_again(status: str) -> None:
    with pytest.raises(NotOpen, match=status):
        check_answerable("m1", status, T0 + WINDOW, T0)


def test_an_item_past_its_window_is_not_answered() -> None:
    with pytest.raises(WindowClosed, match=re.escape("2026-03-03T12:00:00.000Z")):
        check_answerable("m1", OPEN, T0 + WINDOW, T0 + WINDOW + timedelta(milliseconds=1))


@pytest.mark.parametrize(("status", "changes"), [(OPEN, True), (FAILED, True), (CLOSED, False)])
def test_open_and_failed_items_close_and_a_closed_one_stays_closed(
    status: str, changes: bool
) -> None:
    assert to_close("m1", status) is changes


@pytest.mark.parametrize("status", [ANSWERED, REPLYING])
def test_an_answered_item_is_not_closed(status: str) -> None:
    with pytest.raises(NotOpen):
        to_close("m1", status)


def test_the_api_shows_an_item_with_its_window_counted_now() -> None:
    item = new_item(message("m1", content="hi", occurred=T0), WINDOW, T0)
    assert item is not None

    shown = public(item, T0 + timedelta(hours=1))

    assert shown["id"] == "m1"
    assert shown["window_ends_at"] == "2026-03-03T12:00:00.000Z"
    assert shown["window_left_seconds"] == 47 * 3600
    assert shown["answered_by"] is None
    assert public(item, T0 + timedelta(days=3))["window_left_seconds"] == 0


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ({}, ("open", 50, None)),
        ({"status": "all", "limit": "200", "before": "abc_1-2"}, (None, 200, "abc_1-2")),
        ({"status": "answered", "limit": "1"}, ("answered", 1, None)),
    ],
)
def test_a_page_is_a_status_a_limit_and_a_cursor(
    query: dict[str, str], wanted: tuple[str | None, int, str | None]
) -> None:
    assert page_query(query) == wanted


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "pending"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "-3"}, "limit"),
        ({"limit": "٣"}, "limit"),  # a digit, but not an ASCII one
        ({"before": "a/b"}, "before"),
        ({"before": "x" * 65}, "before"),
    ],
)
def test_a_bad_page_is_refused_naming_the_field(query: dict[str, str], field: str) -> None:
    with pytest.raises(ApiError) as refused:
        page_query(query)
    assert (refused.value.status, refused.value.field) == (422, field)


def test_a_reply_is_validated_as_a_rules_reply_is() -> None:
    assert reply_of({"reply": {"type": "text", "content": "hi {openid}"}}) == Reply(
        "text", content="hi {openid}"
    )
    for body, field in [
        ({}, "reply"),
        ({"reply": {"type": "text"}}, "reply.content"),
        ({"reply": {"type": "image", "media_id": 7}}, "reply.media_id"),
        ({"reply": {"type": "text", "content": "{name}"}}, "reply.content"),
        ({"reply": {"type": "text", "content": "x"}, "to": "o_1"}, "to"),
    ]:
        with pytest.raises(ApiError) as refused:
            reply_of(body)
        assert (refused.value.status, refused.value.field) == (422, field), body


def test_a_note_is_an_optional_bounded_string() -> None:
    assert note_of({}) is None
    assert note_of({"note": "called them back"}) == "called them back"
    for bad in (3, "x" * 1025, ["a"]):
        with pytest.raises(ApiError):
            note_of({"note": bad})


def test_retention_defaults_to_30_days_hourly_and_must_outlast_the_window() -> None:
    settings = RepliesSettings.from_env({})
    assert settings.retention == timedelta(days=30)
    assert settings.purge_interval_seconds == 3600
    assert RepliesSettings.from_env({"WXP_REPLIES_RETENTION_DAYS": "7"}).retention.days == 7


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WXP_REPLIES_RETENTION_DAYS": "2"}, "WXP_REPLIES_RETENTION_DAYS"),  # = 48 h window
        ({"WXP_REPLIES_RETENTION_DAYS": "0"}, "WXP_REPLIES_RETENTION_DAYS"),
        ({"WXP_REPLIES_RETENTION_DAYS": "a month"}, "WXP_REPLIES_RETENTION_DAYS"),
        (
            {"WXP_REPLIES_RETENTION_DAYS": "5", "WXP_CS_MESSAGE_WINDOW_HOURS": "200"},
            "WXP_REPLIES_RETENTION_DAYS",
        ),
        ({"WXP_REPLIES_PURGE_INTERVAL_SECONDS": "0"}, "WXP_REPLIES_PURGE_INTERVAL_SECONDS"),
        ({"WXP_REPLIES_PURGE_INTERVAL_SECONDS": "nan"}, "WXP_REPLIES_PURGE_INTERVAL_SECONDS"),
        ({"WXP_REPLIES_PURGE_INTERVAL_SECONDS": "hourly"}, "WXP_REPLIES_PURGE_INTERVAL_SECONDS"),
    ],
)
def test_a_bad_retention_setting_is_refused_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        RepliesSettings.from_env(env)
