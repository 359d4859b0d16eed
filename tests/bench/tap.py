"""Proof that every accepted request reached the bus: a queue of the bench's own, bound
to the bench tenants' routing keys, that fills during the timed run and is read after it
(so reading costs nothing while wrk measures). A classic queue: the tap is the bench's
instrument, not data that must survive.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)

from shared.contracts.payloads import decode
from shared.contracts.topology import declare_exchanges

DRAIN_TIMEOUT = 15.0  # seconds for every expected event to be read


@dataclass
class BusTap:
    channel: AbstractChannel
    queue: AbstractQueue

    @classmethod
    async def open(cls, connection: AbstractConnection, name: str, keys: list[str]) -> BusTap:
        channel = await connection.channel()
        exchange = await declare_exchanges(channel)
        queue = await channel.declare_queue(name, auto_delete=False, exclusive=True)
        for key in keys:
            await queue.bind(exchange, routing_key=key)
        return cls(channel, queue)

    async def confirmed(self, event_ids: set[str]) -> int:
        """How many of ``event_ids`` reached the bus (waits up to DRAIN_TIMEOUT for all)."""
        seen: set[str] = set()
        everything = asyncio.Event()
        if not event_ids:
            everything.set()

        async def note(message: AbstractIncomingMessage) -> None:
            seen.add(message.message_id or decode(message.body).id)
            if event_ids <= seen:
                everything.set()

        tag = await self.queue.consume(note, no_ack=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everything.wait(), DRAIN_TIMEOUT)
        await self.queue.cancel(tag)
        await self.queue.purge()
        return len(event_ids & seen)

    async def close(self) -> None:
        await self.queue.delete(if_unused=False, if_empty=False)
        await self.channel.close()
