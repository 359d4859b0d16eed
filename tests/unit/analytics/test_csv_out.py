"""CSV export: RFC 4180 quoting, flattened counts, and no formulas from readers' keys."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from services.analytics.csv_out import to_csv
from services.analytics.figures import DayFigures

DAY = DayFigures(
    date="2026-12-02",
    new=2,
    lost=5,
    net=-3,
    cumulative=None,
    active_readers=4,
    messages=3,
    messages_by_type={"image": 1, "text": 2},
    menu_clicks={"PRICE": 2, '=HYPERLINK("http://evil")': 1},
    rule_replies=1,
    cs_replies=0,
    unanswered=1,
    interactions=7,
)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_days_with_flattened_counts() -> None:
    columns = ["date", "net", "cumulative", "messages_by_type.text", "messages_by_type.voice"]
    text = to_csv([DAY.to_json()], columns)
    assert text == (
        "date,net,cumulative,messages_by_type.text,messages_by_type.voice\r\n"
        "2026-12-02,-3,,2,\r\n"  # a negative net stays a number; null and absent are empty
    )


def test_a_mapping_not_flattened_is_json() -> None:
    text = to_csv(
        [{"date": "2026-12-02", "messages_by_type": {"text": 2, "image": 1}}],
        ["date", "messages_by_type"],
    )
    assert text == 'date,messages_by_type\r\n2026-12-02,"{""image"": 1, ""text"": 2}"\r\n'
    assert parse(text)[1] == ["2026-12-02", '{"image": 1, "text": 2}']


def test_commas_quotes_and_line_breaks_are_quoted() -> None:
    rows = [{"key": "a,b", "other": 'say "hi"'}, {"key": "two\nlines", "other": "菜单"}]
    text = to_csv(rows, ["key", "other"])
    assert text == 'key,other\r\n"a,b","say ""hi"""\r\n"two\nlines",菜单\r\n'
    assert parse(text) == [["key", "other"], ["a,b", 'say "hi"'], ["two\nlines", "菜单"]]


def test_formulas_are_defused() -> None:
    keys = ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "PRICE", "a=b"]
    text = to_csv([{"key": key} for key in keys], ["key"])
    assert [row[0] for row in parse(text)[1:]] == [
        "'=1+2",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
        "PRICE",
        "a=b",
    ]


def test_a_hostile_menu_key_in_a_flattened_header_and_cell() -> None:
    key = '=HYPERLINK("http://evil")'
    text = to_csv([DAY.to_json()], ["date", f"menu_clicks.{key}", "menu_clicks.PRICE"])
    header, row = parse(text)
    assert header == ["date", f"menu_clicks.{key}", "menu_clicks.PRICE"]  # starts with "m"
    assert row == ["2026-12-02", "1", "2"]
    assert parse(to_csv([{"k": 1}], [key]))[0] == [f"'{key}"]  # a header that is a formula


def test_other_values() -> None:
    at = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)
    row = {"ok": True, "no": False, "rate": 0.25, "at": at, "list": ["a", 1], "none": None}
    text = to_csv([row], ["ok", "no", "rate", "at", "list", "none", "absent", "x.y"])
    assert parse(text)[1] == [
        "true",
        "false",
        "0.25",
        "2026-12-01T16:30:00.000Z",
        '["a", 1]',
        "",
        "",
        "",
    ]


def test_no_rows_is_a_header() -> None:
    assert to_csv([], ["date", "new"]) == "date,new\r\n"
