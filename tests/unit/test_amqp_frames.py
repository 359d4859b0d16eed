"""The AMQP link writes basic.publish and body frames itself: byte for byte what pamqp, the
codec the link reads with (and aio-pika writes with), marshals; and it sends what one turn
of the event loop wrote in one socket write, in order."""

from __future__ import annotations

import asyncio

import pamqp.frame
import pytest
from pamqp.body import ContentBody
from pamqp.commands import Basic, Connection
from pamqp.header import ContentHeader, ProtocolHeader

from shared.platform.amqp_link import CHANNEL, AmqpLink, LinkClosed, body_frames, publish_frame

FRAME_MAX = 131_072  # RabbitMQ's default


@pytest.mark.parametrize(
    ("exchange", "routing_key", "mandatory"),
    [
        ("", "", False),
        ("", "amq.rabbitmq.reply-to.g1h2AA==", False),
        ("wx.events", "t-1.msg.text", True),
        ("wx.events", "租户.event.view", True),  # keys are UTF-8
        ("x" * 127, "k" * 255, False),  # the longest names AMQP allows
    ],
)
def test_publish_frames_are_pamqps(exchange: str, routing_key: str, mandatory: bool) -> None:
    method = Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory)
    assert publish_frame(exchange, routing_key, mandatory=mandatory) == pamqp.frame.marshal(
        method, CHANNEL
    )


def test_a_name_longer_than_a_short_string_is_refused() -> None:
    with pytest.raises(ValueError, match="255"):
        publish_frame("", "k" * 256, mandatory=False)
    with pytest.raises(ValueError, match="255"):
        publish_frame("键" * 86, "", mandatory=False)  # 258 bytes in UTF-8


@pytest.mark.parametrize("size", [0, 1, FRAME_MAX - 8, FRAME_MAX - 7, 400_000])
def test_body_frames_are_pamqps(size: int) -> None:
    body = bytes(n % 251 for n in range(size))
    step = FRAME_MAX - 8
    expected = [
        pamqp.frame.marshal(ContentBody(body[at : at + step]), CHANNEL)
        for at in range(0, len(body), step)
    ]
    assert body_frames(body, FRAME_MAX) == expected
    assert len(expected) == -(-size // step)  # none for an empty body


class Socket:
    """A transport that records what the link sends, and whether it was closed."""

    def __init__(self) -> None:
        self.sent: list[bytes | str] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return "closed" in self.sent

    def close(self) -> None:
        self.sent.append("closed")

    def abort(self) -> None:
        self.sent.append("closed")


def props(n: int) -> Basic.Properties:
    return Basic.Properties(message_id=f"m{n}", delivery_mode=2)


async def test_what_one_turn_of_the_loop_writes_goes_out_in_one_send_in_order() -> None:
    link = AmqpLink()
    socket = Socket()
    link.connection_made(socket)  # type: ignore[arg-type]
    header = ProtocolHeader().marshal()
    assert socket.sent == []  # nothing until the turn ends
    await asyncio.sleep(0)
    assert socket.sent == [header]

    for n in range(3):
        link.publish(f"body {n}".encode(), routing_key=f"t.k{n}", properties=props(n))
    assert socket.sent == [header]
    await asyncio.sleep(0)
    expected = b"".join(
        publish_frame("", f"t.k{n}", mandatory=False)
        + pamqp.frame.marshal(ContentHeader(0, 6, props(n)), CHANNEL)
        + pamqp.frame.marshal(ContentBody(f"body {n}".encode()), CHANNEL)
        for n in range(3)
    )
    assert socket.sent == [header, expected]


async def test_the_brokers_close_is_answered_before_the_socket_closes() -> None:
    link = AmqpLink()
    socket = Socket()
    link.connection_made(socket)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    link.data_received(pamqp.frame.marshal(Connection.Close(320, "shutdown", 0, 0), 0))
    assert socket.sent[1:] == [pamqp.frame.marshal(Connection.CloseOk(), 0), "closed"]
    assert await link.closed == "closed by the broker: 320 shutdown"
    with pytest.raises(LinkClosed):
        link.publish(b"late", routing_key="t.k", properties=props(9))
