"""Bundles: envelopes of one type in one message, each member unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.contracts.bundle import (
    MAX_MEMBERS,
    bundle_id,
    bundle_routing_key,
    decode_bundle,
    encode_bundle,
)
from shared.contracts.envelope import EnvelopeError
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
