"""The broker connection every service keeps, re-established after any loss.

``Broker.run()`` connects, runs the service's ``on_connect`` set-up (channels,
topology, consumers) and, when the connection drops, waits with capped backoff and
does it again. Publishing and consuming code holds no connection of its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractConnection

logger = logging.getLogger(__name__)

OnConnect = Callable[[AbstractConnection], Awaitable[None]]


class BrokerUnavailable(ConnectionError):
    """No live broker connection right now."""


class Broker:
    def __init__(self, url: str, *, name: str, on_connect: list[OnConnect]) -> None:
        self._url = url
        self._name = name
        self._on_connect = on_connect
        self._connection: AbstractConnection | None = None
        self._ready = asyncio.Event()

    @property
    def connected(self) -> bool:
        return (
            self._ready.is_set() and self._connection is not None and not self._connection.is_closed
        )

    async def run(self) -> None:
        """Keeps a connection until cancelled; cancelling closes it."""
        delay = 0.2
        while True:
            try:
                connection = await aio_pika.connect(
                    self._url, timeout=5, client_properties={"connection_name": self._name}
                )
            except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
                logger.warning("broker connect failed: %s; retry in %.1fs", exc, delay)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)
                continue
            closed = asyncio.Event()
            connection.close_callbacks.add(lambda *_, done=closed: done.set())
            try:
                for setup in self._on_connect:
                    await setup(connection)
            except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
                logger.warning("broker set-up failed: %s", exc)
                await connection.close()
                await asyncio.sleep(delay)
                continue
            self._connection = connection
            self._ready.set()
            delay = 0.2
            logger.info("broker connected")
            try:
                await closed.wait()
            finally:
                self._ready.clear()
                self._connection = None
                if not connection.is_closed:
                    await asyncio.shield(connection.close())
            logger.warning("broker connection lost; reconnecting")
