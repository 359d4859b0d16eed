"""Fact rows packed into one field of an inbox document or a leaf: compressed JSON, and
the plain JSON string earlier versions wrote still read."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

import pytest

from services.analytics.facts import Fact, fact_of_row, to_row
from services.analytics.store import pack_rows, unpack_rows

AT = datetime(2026, 12, 3, 4, 5, 6, tzinfo=UTC)


def rows(count: int) -> list[list[object]]:
    return [
        to_row(Fact(f"e{n:05d}", "interaction", "msg.text", AT, "2026-12-03", 12, 3, f"o_{n}"))
        for n in range(count)
    ]


def test_packed_rows_come_back_as_they_went_in() -> None:
    original = rows(120)
    packed = pack_rows(original)
    assert isinstance(packed, bytes)
    assert unpack_rows(packed) == original
    assert [fact_of_row(row).id for row in unpack_rows(packed)][:2] == ["e00000", "e00001"]


def test_packed_rows_take_a_fraction_of_the_json() -> None:
    original = rows(120)
    plain = json.dumps(original, separators=(",", ":")).encode()
    assert len(pack_rows(original)) * 4 < len(plain)


def test_a_plain_json_string_of_an_earlier_version_is_read() -> None:
    original = rows(3)
    assert unpack_rows(json.dumps(original)) == original


@pytest.mark.parametrize(
    "packed",
    [zlib.compress(b'{"not": "rows"}'), '"a string"'],
    ids=["compressed object", "plain scalar"],
)
def test_packed_facts_that_are_not_a_list_are_refused(packed: bytes | str) -> None:
    with pytest.raises(ValueError, match="not a list"):
        unpack_rows(packed)


def test_bytes_that_are_not_zlib_are_refused() -> None:
    with pytest.raises(zlib.error):
        unpack_rows(b"\x00not compressed")
