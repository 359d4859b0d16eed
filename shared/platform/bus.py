"""The broker connection every service keeps, re-established after any loss.

``Broker.run()`` connects, runs the service's ``on_connect`` set-up (channels,
topology, consumers) and, when the connection drops, waits with capped backoff and
does it again. Publishing and consuming code holds no connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection
from aio_pika.connection import make_url

from shared.platform.supervision import idle

logger = logging.getLogger(__name__)
RECONNECT_CAP = 5.0  # seconds: the backoff between connect attempts doubles up to this
# Each wait is the backoff times a jitter of 0.5 to 1.5 (replicas do not retry in step):
# after the broker is back, a service may wait this long before its next attempt.
LONGEST_RECONNECT_WAIT = RECONNECT_CAP * 1.5

OnConnect = Callable[[AbstractConnection], Awaitable[None]]
Connect = Callable[..., Awaitable[AbstractConnection]]


class BrokerUnavailable(ConnectionError):
    """No live broker connection right now."""


async def connect(
    url: str,
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - aio_pika.connect's own signature
    connection_class: type[aio_pika.Connection] = aio_pika.Connection,
    **options: Any,
) -> AbstractConnection:
    """``aio_pika.connect``, except that a connection that fails to open is closed here.

    aio_pika drops such a connection unclosed; its finaliser then calls ``close()`` on
    whatever loop is current when the collector gets to it, and when there is none the
    coroutine is never awaited. A service reconnecting through a broker outage made one
    of those every attempt.
    """
    connection = connection_class(make_url(url), **options)
    try:
        await connection.connect(timeout=timeout)
    except BaseException:
        with contextlib.suppress(Exception):
            await connection.close()
        raise
    return connection


class Broker:
    def __init__(
        self,
        url: str,
        *,
        name: str,
        on_connect: list[OnConnect],
        connect: Connect = connect,
    ) -> None:
        self._url = url
        self._connect = connect
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
                connection = await self._connect(
                    self._url, timeout=5, client_properties={"connection_name": self._name}
                )
            # Not only its documented errors: aiormq raises StopAsyncIteration when a proxy in
            # front of a stopped broker hangs up mid-handshake. Any failure to connect is
            # one more attempt, never the end of the loop.
            except Exception as exc:
                logger.warning("broker connect failed: %r; retry in %.1fs", exc, delay)
                await idle(delay * (0.5 + random.random()))
                delay = min(delay * 2, RECONNECT_CAP)
                continue
            closed = asyncio.Event()
            connection.close_callbacks.add(lambda *_, done=closed: done.set())
            try:
                for setup in self._on_connect:
                    await setup(connection)
            except Exception as exc:  # as above: the connection may die in any way mid-set-up
                logger.warning("broker set-up failed: %r", exc)
                with contextlib.suppress(Exception):
                    await connection.close()
                await idle(delay)
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
