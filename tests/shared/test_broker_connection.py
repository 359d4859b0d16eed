"""The broker connection loop outlives whatever the client library raises while connecting."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection

from shared.platform.bus import Broker
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
