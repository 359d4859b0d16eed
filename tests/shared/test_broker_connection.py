"""The broker connection loop outlives whatever the client library raises while connecting."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from shared.platform.bus import Broker, connect
from tests.support.bus import wait_until
from tests.support.infra import amqp_url


async def test_a_handshake_cut_short_is_one_more_attempt_then_it_connects(infra: None) -> None:
    """The fault run saw aiormq raise StopAsyncIteration when a proxy in front of a stopped
    broker hung up mid-handshake; the loop caught only the documented errors and ended
    for good, so the service never reconnected."""
    attempts: list[str] = []

    async def flaky(url: str, **options: Any) -> AbstractConnection:
        attempts.append(url)
        if len(attempts) <= 2:
            raise StopAsyncIteration  # what aiormq's frame reader raised at end of stream
        return await aio_pika.connect(amqp_url(), **options)

    broker = Broker("amqp://unused/", name="wxp-test", on_connect=[], connect=flaky)
    running = asyncio.create_task(broker.run())
    try:
        await wait_until(lambda: broker.connected, 10, what="the broker connected")

        assert len(attempts) == 3
        assert not running.done()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_connection_that_fails_to_open_is_closed_not_left_to_the_collector(
    infra: None,
) -> None:
    """aio_pika leaves such a connection open for its finaliser, which schedules ``close()``
    on whatever loop is current then: with none, "coroutine 'Connection.close' was never
    awaited", one per attempt while a service waits out a broker outage."""
    made: list[aio_pika.Connection] = []

    class Recorded(aio_pika.Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises((OSError, aio_pika.exceptions.AMQPError)):
        await connect(f"amqp://guest:guest@127.0.0.1:{port}/", timeout=2, connection_class=Recorded)
    assert len(made) == 1
    assert made[0].is_closed

    opened = await connect(amqp_url(), timeout=5, connection_class=Recorded)
    try:
        assert made[1] is opened
        assert not opened.is_closed
    finally:
        await opened.close()
