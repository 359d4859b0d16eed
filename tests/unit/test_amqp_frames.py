"""The AMQP link writes basic.publish and body frames itself: byte for byte what pamqp, the
codec the link reads with (and aio-pika writes with), marshals."""

from __future__ import annotations

import pamqp.frame
import pytest
from pamqp.body import ContentBody
from pamqp.commands import Basic

from shared.platform.amqp_link import CHANNEL, body_frames, publish_frame

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
