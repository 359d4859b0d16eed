"""Proof that every accepted request reached the bus: a queue of the bench's own, bound
to the bench tenants' routing keys and to the bundles of their types, that fills during
the timed run and is read after it (so reading costs nothing while wrk measures). A
classic queue: the tap is the bench's instrument, not data that must survive.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)

from shared.contracts.bundle import BUNDLE_CONTENT_TYPE, decode_bundle
from shared.contracts.payloads import decode
from shared.contracts.topology import declare_exchanges

DRAIN_TIMEOUT = 15.0  # seconds for every expected event to be read
# Once as many as were accepted are read, the read ends after this long without another:
# wrk prepares a connection's next request before it sends it, so up to a connection's
# worth of the ids it counted as sent never reached the gateway, and never come.
QUIET = 0.5


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

    async def confirmed(self, event_ids: set[str], *, enough: int | None = None) -> int:
        """How many of ``event_ids`` reached the bus. Waits up to DRAIN_TIMEOUT for all of
        them, or, given ``enough``, until at least that many are read and QUIET passes
        without another."""
        loop = asyncio.get_running_loop()
        seen: set[str] = set()
        read = asyncio.Event()  # set by each expected id read

        async def note(message: AbstractIncomingMessage) -> None:
            if message.content_type == BUNDLE_CONTENT_TYPE:
                ids = {member.id for member in decode_bundle(message.body)}
            else:
                ids = {message.message_id or decode(message.body).id}
            if ids & event_ids:
                seen.update(ids & event_ids)
                read.set()

        tag = await self.queue.consume(note, no_ack=True)
        deadline = loop.time() + DRAIN_TIMEOUT
        while len(seen) < len(event_ids):
            quiet = enough is not None and len(seen) >= enough
            wait = min(QUIET if quiet else DRAIN_TIMEOUT, deadline - loop.time())
            if wait <= 0:
                break
            read.clear()
            try:
                async with asyncio.timeout(wait):
                    await read.wait()
            except TimeoutError:
                if quiet:
                    break
        await self.queue.cancel(tag)
        await self.queue.purge()
        return len(seen)

    async def close(self) -> None:
        await self.queue.delete(if_unused=False, if_empty=False)
        await self.channel.close()
