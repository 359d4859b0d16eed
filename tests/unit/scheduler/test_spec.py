"""Broadcast requests: validation naming the field, the typed spec, its JSON and WeChat shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.scheduler.spec import (
    At,
    Audience,
    BestOn,
    BroadcastSpec,
    Cron,
    InvalidBroadcast,
    Message,
    SpecLimits,
    parse_broadcast,
)

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # Tuesday 12:00 in Asia/Shanghai
TZ = "Asia/Shanghai"
TEXT = {"type": "text", "content": "Hello, readers"}
ALL = {"kind": "all"}
AT = {"at": "2026-12-04T20:00"}
DEFAULT = SpecLimits()
REPRINT = "message.send_ignore_reprint"


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "Friday news", "message": TEXT, "audience": ALL, "schedule": AT}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


VALID: list[dict[str, Any]] = [
    body(),
    body(name="  padded  "),
    body(message={"type": "mpnews", "media_id": "MEDIA_1"}),
    body(message={"type": "mpnews", "media_id": "MEDIA_1", "send_ignore_reprint": True}),
    body(message={"type": "image", "media_ids": ["IMG_1", "IMG_2"]}),
    body(message={"type": "voice", "media_id": "VOICE-1"}),
    body(message={"type": "mpvideo", "media_id": "VIDEO_1"}),
    body(audience={"kind": "tag", "tag_id": 0}),
    body(audience={"kind": "tag", "tag_id": 101}),
    body(audience={"kind": "openids", "openids": ["oA-1", "oB_2"]}),
    body(audience={"kind": "openids", "openids": ["oA", "oB", "oA", "oC"]}),
    body(schedule={"at": "2026-12-04T20:00:30"}),
    body(schedule={"at": "2026-12-04T12:00:00Z"}),
    body(schedule={"at": "2026-12-04T20:00+08:00"}),
    body(schedule={"at": "2026-12-04T07:00:00.250-05:00"}),
    body(schedule={"cron": "0 20 * * 5"}),
    body(schedule={"cron": " 0  20 * * fri ", "until": "2026-12-31"}),
    body(schedule={"cron": "*/15 9-17 * * MON-FRI", "until": None}),
    body(schedule={"best_on": "2026-12-04"}),
    body(schedule={"best_on": "2026-12-01"}),
]


def parse(data: Any, limits: SpecLimits = DEFAULT, tz: str = TZ) -> BroadcastSpec:
    return parse_broadcast(data, timezone=tz, now=NOW, limits=limits)


def refused(data: Any, limits: SpecLimits = DEFAULT) -> InvalidBroadcast:
    with pytest.raises(InvalidBroadcast) as caught:
        parse(data, limits)
    error = caught.value
    assert str(error) == f"{error.field}: {error.message}"
    return error


@pytest.mark.parametrize("data", VALID)
def test_every_valid_example_round_trips_through_json(data: dict[str, Any]) -> None:
    spec = parse(data)
    assert BroadcastSpec.from_json(spec.to_json()) == spec
    assert parse(spec.to_json()) == spec


def test_a_text_broadcast_to_all_at_a_naive_local_time() -> None:
    spec = parse(body(name="  Friday news "))
    assert spec == BroadcastSpec(
        "Friday news",
        Message("text", content="Hello, readers"),
        Audience("all"),
        At(datetime(2026, 12, 4, 12, 0, tzinfo=UTC)),  # 20:00 in Shanghai
    )
    assert spec.to_json()["schedule"] == {"at": "2026-12-04T12:00:00Z"}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-12-04T20:00:30", datetime(2026, 12, 4, 12, 0, 30, tzinfo=UTC)),
        ("2026-12-04T12:00Z", datetime(2026, 12, 4, 12, 0, tzinfo=UTC)),
        ("2026-12-04T12:00:00Z", datetime(2026, 12, 4, 12, 0, tzinfo=UTC)),
        ("2026-12-04T20:00-05:00", datetime(2026, 12, 5, 1, 0, tzinfo=UTC)),
        ("2026-12-04T12:00:00.999+00:00", datetime(2026, 12, 4, 12, 0, tzinfo=UTC)),
    ],
)
def test_an_explicit_offset_is_honoured_and_seconds_are_optional(
    at: str, expected: datetime
) -> None:
    assert parse(body(schedule={"at": at})).schedule == At(expected)


def test_a_naive_time_in_a_dst_gap_lands_after_the_gap() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    spec = parse_broadcast(
        body(schedule={"at": "2026-03-08T02:30"}), timezone="America/New_York", now=now
    )
    assert spec.schedule == At(datetime(2026, 3, 8, 7, 30, tzinfo=UTC))  # 03:30 EDT


@pytest.mark.parametrize(
    "at",
    ["2026-12-01T12:00", "2026-12-01T11:59:59", "2026-12-01T04:00:00Z", "2025-01-01T00:00Z"],
)
def test_an_at_that_is_not_in_the_future_is_refused(at: str) -> None:
    error = refused(body(schedule={"at": at}))
    assert (error.field, error.message) == ("schedule.at", "in the past")


@pytest.mark.parametrize(
    "at",
    [
        "2026-12-04",
        "2026-12-04 20:00",
        "2026-12-04T20",
        "2026-13-04T20:00",
        "2026-12-04T24:00",
        "20261204T2000",
        "2026-12-04T20:00\n",
        "2026-12-04T20:00+0800",
        1764849600,
        None,
    ],
)
def test_an_at_that_is_not_an_iso_date_time_is_refused(at: object) -> None:
    assert refused(body(schedule={"at": at})).field == "schedule.at"


def test_a_cron_is_normalised_and_keeps_its_until() -> None:
    spec = parse(body(schedule={"cron": " 0  20 * * fri ", "until": "2026-12-31"}))
    assert spec.schedule == Cron("0 20 * * fri", date(2026, 12, 31))
    assert parse(body(schedule={"cron": "0 20 * * 5", "until": None})).schedule == Cron(
        "0 20 * * 5"
    )


@pytest.mark.parametrize(
    "cron",
    [
        "0 0 20 * * 5",
        "20 * * 5",
        "61 20 * * *",
        "0 25 * * *",
        "0 20 32 * *",
        "0 20 * 13 *",
        "0 20 * * 8",
        "every friday",
        "0 20 * * 5/0",
        "0 0 30 2 *",
        "0\t20 * * 5",
        "",
        5,
        "0 20 * * " + "1," * 60 + "2",
    ],
)
def test_an_invalid_cron_is_refused(cron: object) -> None:
    assert refused(body(schedule={"cron": cron})).field == "schedule.cron"


def test_a_cron_must_run_before_its_until() -> None:
    assert parse(body(schedule={"cron": "0 20 * * *", "until": "2026-12-01"}))  # tonight
    error = refused(body(schedule={"cron": "0 9 * * *", "until": "2026-12-01"}))  # 09:00 passed
    assert error.field == "schedule.cron"
    assert "2026-12-01" in error.message
    assert refused(body(schedule={"cron": "0 9 * * *", "until": "2026-11-30"})).message == (
        "in the past"
    )


def test_best_on_is_a_local_date_not_before_today() -> None:
    assert parse(body(schedule={"best_on": "2026-12-01"})).schedule == BestOn(date(2026, 12, 1))
    # 2026-11-30T20:00Z is already 2026-12-01 in Shanghai: 2026-11-30 is yesterday there
    now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    late = body(schedule={"best_on": "2026-11-30"})
    with pytest.raises(InvalidBroadcast, match=r"schedule\.best_on: in the past"):
        parse_broadcast(late, timezone=TZ, now=now)
    assert parse_broadcast(late, timezone="UTC", now=now).schedule == BestOn(date(2026, 11, 30))


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({}, "schedule"),
        ({"at": "2026-12-04T20:00", "best_on": "2026-12-04"}, "schedule"),
        ({"at": "2026-12-04T20:00", "until": "2026-12-31"}, "schedule.until"),
        ({"cron": "0 20 * * 5", "until": "31/12/2026"}, "schedule.until"),
        ({"cron": "0 20 * * 5", "until": "2026-02-30"}, "schedule.until"),
        ({"best_on": "2026-12-4"}, "schedule.best_on"),
        ({"best_on": "9999-01-01"}, "schedule.best_on"),
        ({"at": "9999-12-31T23:00"}, "schedule.at"),
        ({"every": "day"}, "schedule.every"),
        ("2026-12-04T20:00", "schedule"),
    ],
)
def test_a_bad_schedule_names_its_field(schedule: object, field: str) -> None:
    assert refused(body(schedule=schedule)).field == field


def test_openids_are_deduplicated_in_order() -> None:
    spec = parse(body(audience={"kind": "openids", "openids": ["oB", "oA", "oB", "oC", "oA"]}))
    assert spec.audience == Audience("openids", openids=("oB", "oA", "oC"))


@pytest.mark.parametrize(
    ("openids", "field"),
    [
        (["oA"], "audience.openids"),  # WeChat answers 40130 for one openid
        (["oA", "oA"], "audience.openids"),
        ([], "audience.openids"),
        ("oA,oB", "audience.openids"),
        (["oA", ""], "audience.openids[1]"),
        (["oA", "o B"], "audience.openids[1]"),
        (["oA", 7], "audience.openids[1]"),
        (["o" * 65, "oB"], "audience.openids[0]"),
    ],
)
def test_bad_openid_lists_are_refused(openids: object, field: str) -> None:
    assert refused(body(audience={"kind": "openids", "openids": openids})).field == field


def test_an_oversized_openid_list_is_refused() -> None:
    small = SpecLimits(max_openids=3)
    assert parse(body(audience={"kind": "openids", "openids": ["a", "b", "c"]}), small)
    error = refused(body(audience={"kind": "openids", "openids": ["a", "b", "c", "d"]}), small)
    assert error.field == "audience.openids"


@pytest.mark.parametrize("tag_id", [True, False, -1, "7", 1.5, 2**31, None])
def test_a_tag_id_is_a_non_negative_int_and_bool_is_not_an_int(tag_id: object) -> None:
    assert refused(body(audience={"kind": "tag", "tag_id": tag_id})).field == "audience.tag_id"


def test_text_up_to_the_limit() -> None:
    assert parse(body(message={"type": "text", "content": "x" * 10_000})).message.content
    error = refused(body(message={"type": "text", "content": "x" * 10_001}))
    assert error.field == "message.content"
    assert refused(body(message=TEXT), SpecLimits(max_text=5)).field == "message.content"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "video", "media_id": "M"}, "message.type"),
        ({"content": "hi"}, "message.type"),
        ({"type": True}, "message.type"),
        ("hello", "message"),
        ({"type": "text"}, "message.content"),
        ({"type": "text", "content": "   "}, "message.content"),
        ({"type": "text", "content": 5}, "message.content"),
        ({"type": "text", "content": "hi", "media_id": "M"}, "message.media_id"),
        ({"type": "mpnews"}, "message.media_id"),
        ({"type": "mpnews", "media_id": ""}, "message.media_id"),
        ({"type": "voice", "media_id": "M" * 129}, "message.media_id"),
        ({"type": "mpnews", "media_id": "M", "send_ignore_reprint": 1}, REPRINT),
        ({"type": "voice", "media_id": "M", "send_ignore_reprint": False}, REPRINT),
        ({"type": "image", "media_ids": []}, "message.media_ids"),
        ({"type": "image", "media_ids": ["M"] * 21}, "message.media_ids"),
        ({"type": "image", "media_ids": "M"}, "message.media_ids"),
        ({"type": "image", "media_ids": ["M", None]}, "message.media_ids[1]"),
        ({"type": "image"}, "message.media_ids"),
    ],
)
def test_a_bad_message_names_its_field(message: object, field: str) -> None:
    assert refused(body(message=message)).field == field


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (body(extra=1), "extra"),
        ({"message": TEXT, "audience": ALL, "schedule": AT}, "name"),
        (body(name="   "), "name"),
        (body(name="n" * 201), "name"),
        (body(name=7), "name"),
        (body(audience={"kind": "all", "tag_id": 1}), "audience.tag_id"),
        (body(audience={"kind": "everyone"}), "audience.kind"),
        (body(audience={"kind": "openids"}), "audience.openids"),
        (["not", "an", "object"], "body"),
    ],
)
def test_unknown_missing_and_mistyped_fields_are_named(data: object, field: str) -> None:
    assert refused(data).field == field


def test_wechat_bodies_for_every_message_type() -> None:
    assert Message("text", content="hi").wechat_body() == {
        "msgtype": "text",
        "text": {"content": "hi"},
    }
    assert Message("mpnews", media_id="M", send_ignore_reprint=True).wechat_body() == {
        "msgtype": "mpnews",
        "mpnews": {"media_id": "M"},
        "send_ignore_reprint": 1,
    }
    assert Message("mpnews", media_id="M").wechat_body()["send_ignore_reprint"] == 0
    assert Message("image", media_ids=("A", "B")).wechat_body() == {
        "msgtype": "image",
        "images": {
            "media_ids": ["A", "B"],
            "recommend": "",
            "need_open_comment": 0,
            "only_fans_can_comment": 0,
        },
    }
    assert Message("voice", media_id="V").wechat_body() == {
        "msgtype": "voice",
        "voice": {"media_id": "V"},
    }
    assert Message("mpvideo", media_id="W").wechat_body() == {
        "msgtype": "mpvideo",
        "mpvideo": {"media_id": "W"},
    }


def test_only_articles_and_videos_can_be_retracted() -> None:
    kinds = {"text": False, "mpnews": True, "image": False, "voice": False, "mpvideo": True}
    for kind, retractable in kinds.items():
        assert Message.from_json({"type": kind, "media_id": "M"}).retractable is retractable


def test_wechat_targets_and_the_quota() -> None:
    assert Audience("all").wechat_target() == {"filter": {"is_to_all": True}}
    assert Audience("tag", tag_id=3).wechat_target() == {
        "filter": {"is_to_all": False, "tag_id": 3}
    }
    listed = Audience("openids", openids=("a", "b", "c"))
    assert listed.wechat_target() == {"touser": ["a", "b", "c"]}
    assert listed.wechat_target(("b", "c")) == {"touser": ["b", "c"]}
    assert Audience("all").counts_toward_quota
    assert Audience("tag", tag_id=3).counts_toward_quota
    assert not listed.counts_toward_quota


def test_stored_messages_are_trusted() -> None:
    stored = {"type": "text", "content": "x" * 20_000}  # a limit may have been lowered since
    assert Message.from_json(stored).to_json() == stored
    assert Message.from_json({"type": "mpnews", "media_id": "M"}).to_json() == {
        "type": "mpnews",
        "media_id": "M",
        "send_ignore_reprint": False,
    }
