"""Answers on direct reply-to that travel together: the wire format, the responder's turn
(against a fake link that records what it would send) and the asker's split."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pamqp.commands import Basic

from shared.contracts.bundle import (
    ANSWERS_CONTENT_TYPE,
    ANSWERS_HEADER,
    MAX_ANSWERS,
    decode_answers,
    encode_answers,
)
from shared.contracts.codec import DecodeError
from shared.platform.amqp_link import LinkClosed
from shared.platform.answers import TurnAnswers
from shared.platform.publisher import EventPublisher

Properties = Basic.Properties


def test_answers_come_back_in_order_each_with_its_own_bytes() -> None:
    answers = [("c-1", b'{"reply":null}'), ("c-2", b""), ("c-3", "好".encode())]
    header, body = encode_answers(answers)
    assert header == [["c-1", 14], ["c-2", 0], ["c-3", 3]]
    assert decode_answers(header, body) == answers
    assert decode_answers([[b"c-1", 2]], b"ok") == [("c-1", b"ok")]  # an AMQP long string


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (None, b""),
        ("c-1", b""),
        ([], b""),
        ([["c-1"]], b"x"),
        ([["c-1", 1, 2]], b"x"),
        ([["", 1]], b"x"),
        ([[7, 1]], b"x"),
        ([["c-1", -1]], b""),
        ([["c-1", True]], b"x"),  # a bool is no length
        ([["c-1", "1"]], b"x"),
        ([["c-1", 1]], b"xy"),  # lengths short of the body
        ([["c-1", 2], ["c-2", 2]], b"xyz"),  # past it
        ([["c", 0]] * (MAX_ANSWERS + 1), b""),
    ],
)
def test_a_header_that_is_not_ours_takes_none_of_the_answers(header: Any, body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_answers(header, body)


def test_encoding_refuses_nothing_and_too_many() -> None:
    with pytest.raises(ValueError, match="not 0"):
        encode_answers([])
    with pytest.raises(ValueError, match=f"not {MAX_ANSWERS + 1}"):
        encode_answers([("c", b"")] * (MAX_ANSWERS + 1))


class FakeLink:
    """What ``TurnAnswers`` would put on the wire, in order."""

    def __init__(self, *, closed: bool = False) -> None:
        self.sent: list[tuple[str, bytes, Properties]] = []
        self.closed = closed

    def publish(self, body: bytes, *, routing_key: str, properties: Properties) -> None:
        if self.closed:
            raise LinkClosed("gone")
        self.sent.append((routing_key, body, properties))


def asked(correlation_id: str) -> Properties:
    return Properties(correlation_id=correlation_id, content_type="application/json")


async def test_answers_of_one_turn_go_together_to_each_asker_that_takes_them_so() -> None:
    link, sizes = FakeLink(), list[int]()
    answers = TurnAnswers(link, sizes.append)  # type: ignore[arg-type]
    answers.send("gw-1", b"a0", asked("c-0"), together=True)
    answers.send("gw-2", b"b0", asked("d-0"), together=True)
    answers.send("gw-1", b"a1", asked("c-1"), together=True)
    answers.send("old", b"o0", asked("e-0"), together=False)
    assert [(to, body) for to, body, _ in link.sent] == [("old", b"o0")]  # alone, at once
    await asyncio.sleep(0)  # the end of the turn
    assert [to for to, _, _ in link.sent] == ["old", "gw-1", "gw-2"]
    _, body, properties = link.sent[1]
    assert properties.content_type == ANSWERS_CONTENT_TYPE
    assert properties.correlation_id is None
    assert decode_answers(properties.headers[ANSWERS_HEADER], body) == [
        ("c-0", b"a0"),
        ("c-1", b"a1"),
    ]
    _, body, properties = link.sent[2]  # one alone in its turn goes as it came
    assert (body, properties.correlation_id, properties.content_type) == (
        b"b0",
        "d-0",
        "application/json",
    )
    answers.send("gw-1", b"a2", asked("c-2"), together=True)
    await asyncio.sleep(0)
    _, body, properties = link.sent[3]  # the next turn's: a message of its own
    assert (body, properties.correlation_id) == (b"a2", "c-2")
    assert sizes == [1, 2, 1, 1]  # answers in each message sent


async def test_more_answers_than_one_message_holds_go_in_several() -> None:
    link, sizes = FakeLink(), list[int]()
    answers = TurnAnswers(link, sizes.append)  # type: ignore[arg-type]
    for n in range(MAX_ANSWERS + 2):
        answers.send("gw", str(n).encode(), asked(f"c-{n}"), together=True)
    await asyncio.sleep(0)
    split = [decode_answers(p.headers[ANSWERS_HEADER], body) for _, body, p in link.sent]
    assert [len(some) for some in split] == [MAX_ANSWERS, 2] == sizes
    assert [cid for some in split for cid, _ in some] == [f"c-{n}" for n in range(MAX_ANSWERS + 2)]


async def test_answers_lost_with_their_link_fail_no_handler() -> None:
    sizes = list[int]()
    answers = TurnAnswers(FakeLink(closed=True), sizes.append)  # type: ignore[arg-type]
    answers.send("gw", b"a", asked("c-0"), together=False)
    answers.send("gw", b"b", asked("c-1"), together=True)
    answers.send("gw", b"c", asked("c-2"), together=True)
    await asyncio.sleep(0)  # nothing raised: the askers fall back when their waits end
    assert sizes == []  # nothing went


async def test_the_asker_resolves_each_wait_from_a_message_of_answers() -> None:
    publisher = EventPublisher(queues=[], confirm_timeout=1.0)
    first, second, third = (publisher.expect_reply(f"c-{n}") for n in range(3))
    header, body = encode_answers([("c-0", b"zero"), ("late", b"?"), ("c-2", b"two")])
    together = Properties(content_type=ANSWERS_CONTENT_TYPE, headers={ANSWERS_HEADER: header})
    publisher._on_reply(1, False, together, body)
    assert (first.result(), second.done(), third.result()) == (b"zero", False, b"two")
    publisher._on_reply(2, False, asked("c-1"), b"one")  # an answer alone, as before
    assert second.result() == b"one"


async def test_a_message_of_answers_that_is_not_ours_answers_nobody() -> None:
    publisher = EventPublisher(queues=[], confirm_timeout=1.0)
    waits = [publisher.expect_reply(f"c-{n}") for n in range(2)]
    spoiled = Properties(
        content_type=ANSWERS_CONTENT_TYPE, headers={ANSWERS_HEADER: [["c-0", 4], ["c-1", 9]]}
    )
    publisher._on_reply(1, False, spoiled, b"zeroone")
    assert [wait.done() for wait in waits] == [False, False]
