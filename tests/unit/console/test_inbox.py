"""The inbox page's shaping, pure: the time left in WeChat's window, who acted, an
API item as a row that may be answered or closed, and the links between pages."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.gateway.console.inbox_view import (
    Pages,
    before_of,
    caller_name,
    page_context,
    row_of,
    status_of,
    window_parts,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def item(**fields: object) -> dict[str, object]:
    return {
        "id": "evt_1",
        "openid": "o_reader",
        "type": "msg.text",
        "message": {"content": "几点开门?"},
        "status": "open",
        "received_at": "2026-05-01T16:30:00.000Z",
        "window_left_seconds": 48 * 3600 - 30,
        "answered_by": None,
        "reply": None,
        "note": None,
        "error": None,
        "closed_by": None,
        **fields,
    }


def test_the_window_left_in_hours_and_minutes() -> None:
    assert window_parts(48 * 3600) == (48, 0)
    assert window_parts(48 * 3600 - 1) == (47, 59)
    assert window_parts(59) == (0, 0)
    assert window_parts(0) is None
    assert window_parts(-5) is None


def test_who_acted_by_the_keys_name_or_id() -> None:
    assert caller_name({"scope": "tenant", "key_id": "k1", "name": "前台"}) == "前台"
    assert caller_name({"scope": "tenant", "key_id": "k1", "name": ""}) == "k1"
    assert caller_name({"scope": "admin", "key_id": "admin", "name": ""}) == "admin"
    assert caller_name(None) == ""


def test_an_open_message_in_its_window_may_be_answered_and_closed() -> None:
    row = row_of(item(), SHANGHAI)
    assert (row.text, row.window, row.answerable, row.closable) == (
        "几点开门?",
        (47, 59),
        True,
        True,
    )
    assert f"{row.received_at:%Y-%m-%d %H:%M}" == "2026-05-02 00:30"


def test_a_message_past_its_window_may_only_be_closed() -> None:
    row = row_of(item(window_left_seconds=0), SHANGHAI)
    assert (row.window, row.answerable, row.closable) == (None, False, True)


def test_an_answered_message_shows_who_what_and_the_note() -> None:
    row = row_of(
        item(
            status="answered",
            answered_by={"scope": "tenant", "key_id": "k1", "name": "console test"},
            reply={"type": "text", "content": "九点开门"},
            note="by phone",
        ),
        SHANGHAI,
    )
    assert (row.answered_by, row.reply, row.note) == ("console test", "九点开门", "by phone")
    assert (row.answerable, row.closable) == (False, False)


def test_an_unknown_filter_is_the_open_one() -> None:
    assert status_of({"status": "closed"}) == "closed"
    assert status_of({"status": "nonsense"}) == "open"
    assert status_of({}) == "open"


def test_the_time_shown_is_when_the_reader_sent_it_as_the_window_counts_from_it() -> None:
    row = row_of(item(occurred_at="2026-04-29T16:30:00.000Z"), SHANGHAI)
    assert f"{row.received_at:%Y-%m-%d %H:%M}" == "2026-04-30 00:30"


def test_pages_link_to_older_messages_and_back_to_the_newest() -> None:
    first = page_context([item()], SHANGHAI, "open", None, None, Pages(None, "evt_1"))
    assert (first["older"], first["newest"]) == ("status=open&before=evt_1", None)

    middle = page_context([item()], SHANGHAI, "all", None, None, Pages("evt_0", "evt_1"))
    assert (middle["older"], middle["newest"]) == ("status=all&before=evt_1", "status=all")

    last = page_context([item()], SHANGHAI, "closed", None, None, Pages("evt_0", None))
    assert (last["older"], last["newest"]) == (None, "status=closed")


def test_a_page_start_that_is_not_an_event_id_is_ignored() -> None:
    assert before_of({"before": "evt_1-A"}) == "evt_1-A"
    assert before_of({"before": "x&status=all"}) is None
    assert before_of({"before": "a" * 65}) is None
    assert before_of({}) is None
