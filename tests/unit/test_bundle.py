"""Bundles: envelopes of one type in one message, each member unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.contracts.bundle import (
    MAX_MEMBERS,
    ReplyAsk,
    ask_of,
    bundle_id,
    bundle_routing_key,
    decode_bundle,
    encode_asks,
    encode_bundle,
)
from shared.contracts.envelope import REPLY_BUDGET_HEADER, REPLY_DEADLINE_HEADER, EnvelopeError
from shared.contracts.payloads import decode
from shared.contracts.reply_events import reply_sent
from tests.support.fakes import message

AT = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def receipts(n: int) -> list:
    return [
        reply_sent(message(f"m{i}", tenant=f"t{i % 3}"), rule_id="r", via="passive", at=AT)
        for i in range(n)
    ]


def test_members_come_back_as_they_went_each_as_it_would_travel_alone() -> None:
    members = receipts(4)
    body = encode_bundle(members)
    assert decode_bundle(body) == members
    assert [decode(member.to_bytes()) for member in members] == members
    assert bundle_routing_key(members[0].type) == "_bundle.reply.sent"
    assert bundle_id(members) == "bundle:m0-sent+4"


def test_a_bundle_holds_one_type_and_a_bounded_number() -> None:
    with pytest.raises(ValueError, match="1 to"):
        encode_bundle([])
    with pytest.raises(ValueError, match="1 to"):
        encode_bundle(receipts(1) * (MAX_MEMBERS + 1))
    with pytest.raises(ValueError, match="one type"):
        encode_bundle([*receipts(1), message("m9")])


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff",
        b"{}",
        b"[]",
        b'"x"',
        b"[1]",
        b'[{"v": 1}]',
        b"[" * 100_000,
    ],
)
def test_bytes_that_are_no_bundle_say_so(body: bytes) -> None:
    with pytest.raises(EnvelopeError):
        decode_bundle(body)


def test_a_bundle_of_mixed_types_or_too_many_is_refused() -> None:
    mixed = b"[" + receipts(1)[0].to_bytes() + b"," + message("m9").to_bytes() + b"]"
    with pytest.raises(EnvelopeError, match="mixed"):
        decode_bundle(mixed)
    member = receipts(1)[0].to_bytes()
    with pytest.raises(EnvelopeError, match="1 to"):
        decode_bundle(b"[" + b",".join([member] * (MAX_MEMBERS + 1)) + b"]")


def test_each_member_gets_back_the_ask_it_went_with() -> None:
    asks = [ReplyAsk("c1", 4200, 1_800_000_000_000), None, ReplyAsk("c3", 10, 5)]
    header = encode_asks(asks)
    assert header == [["c1", 4200, 1_800_000_000_000], "", ["c3", 10, 5]]
    assert [ask_of(header, i, 3) for i in range(3)] == asks
    assert asks[0].headers() == {
        REPLY_DEADLINE_HEADER: 1_800_000_000_000,
        REPLY_BUDGET_HEADER: 4200,
    }
    assert ask_of([[b"c1", 1, 2]], 0, 1) == ReplyAsk("c1", 1, 2)  # AMQP may hand bytes


@pytest.mark.parametrize(
    ("asks", "index", "members"),
    [
        (None, 0, 1),  # no header: nobody asked
        ("c1", 0, 1),
        ([["c1", 1, 2]], 0, 2),  # fewer asks than members: not a header we wrote
        ([["c1", 1, 2]], 1, 1),
        ([["c1", 1]], 0, 1),
        ([["", 1, 2]], 0, 1),
        ([["c1", "1", 2]], 0, 1),
        ([["c1", True, 2]], 0, 1),
        ([[7, 1, 2]], 0, 1),
        ([{"c1": 1}], 0, 1),
    ],
)
def test_an_ask_that_is_not_ours_asks_nothing(asks: object, index: int, members: int) -> None:
    assert ask_of(asks, index, members) is None
