"""Control notices between replicas: "tenant X was created, changed or deleted", "key Y
was revoked".

A fanout exchange ``wx.control``; every process binds an exclusive, server-named
queue to it and forgets the cached entries a notice names. Notices speed up what
cache expiry does anyway, so they are fire-and-forget: a process that misses one
(the broker was away) catches up when its cache entries expire, within seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)

from shared.platform.bus import BrokerUnavailable

logger = logging.getLogger(__name__)
CONTROL_EXCHANGE = "wx.control"
# What a tenant's cached entries (credentials, the directory) are forgotten on: a create
# too, since a process may have cached the id as unknown a moment before.
TENANT_NOTICES = ("tenant.created", "tenant.changed", "tenant.deleted")
Listener = Callable[[str], None]


class ControlBus:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    def on(self, kind: str, listener: Listener) -> None:
        """Calls ``listener(subject_id)`` for every notice of ``kind``."""
        self._listeners.setdefault(kind, []).append(listener)

    async def setup(self, connection: AbstractConnection) -> None:
        """Broker on-connect step."""
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            CONTROL_EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        await queue.consume(self._on_notice, no_ack=True)
        self._channel, self._exchange = channel, exchange

    async def notify(self, kind: str, subject_id: str) -> None:
        """Tells every process (this one included) that ``subject_id`` changed."""
        for listener in self._listeners.get(kind, []):
            listener(subject_id)
        exchange, channel = self._exchange, self._channel
        if exchange is None or channel is None or channel.is_closed:
            logger.warning("control notice %s %s not sent: no broker", kind, subject_id)
            return
        body = json.dumps({"kind": kind, "id": subject_id}).encode()
        try:
            await exchange.publish(aio_pika.Message(body), routing_key="")
        except (aio_pika.exceptions.AMQPError, OSError, BrokerUnavailable) as exc:
            logger.warning("control notice %s %s not sent: %s", kind, subject_id, exc)

    async def _on_notice(self, message: AbstractIncomingMessage) -> None:
        try:
            notice = json.loads(message.body)
            kind, subject_id = str(notice["kind"]), str(notice["id"])
        except (ValueError, KeyError, TypeError):
            logger.warning("malformed control notice dropped")
            return
        for listener in self._listeners.get(kind, []):
            listener(subject_id)
