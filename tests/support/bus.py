"""A test peer on the real broker: a tap that records what the gateway published
and, when given ``answer``, replies to passive-reply requests like the replies
service does (after ``delay`` seconds)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from shared.envelope import Envelope
from shared.topology import declare_exchanges

Answer = Callable[[Envelope], dict[str, Any] | None]


class Tap:
    def __init__(
        self, channel: AbstractChannel, queue: AbstractQueue, answer: Answer | None, delay: float
    ) -> None:
        self.channel = channel
        self.queue = queue
        self.answer = answer
        self.delay = delay
        self.events: list[Envelope] = []
        self.reply_requests: list[Envelope] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(
        cls,
        connection: AbstractConnection,
        name: str,
        keys: list[str],
        *,
        answer: Answer | None = None,
        delay: float = 0.0,
    ) -> Tap:
        channel = await connection.channel()
        exchange = await declare_exchanges(channel)
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        for key in keys:
            await queue.bind(exchange, routing_key=key)
        tap = cls(channel, queue, answer, delay)
        await queue.consume(tap._on_message, no_ack=True)
        return tap

    def of_type(self, kind: str) -> list[Envelope]:
        return [e for e in self.events if e.type == kind]

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        envelope = Envelope.from_bytes(message.body)
        self.events.append(envelope)
        if message.reply_to and self.answer is not None:
            self.reply_requests.append(envelope)
            task = asyncio.ensure_future(self._reply(message, envelope))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _reply(self, message: AbstractIncomingMessage, envelope: Envelope) -> None:
        await asyncio.sleep(self.delay)
        assert self.answer is not None
        spec = self.answer(envelope) or {"type": "none"}
        await self.channel.default_exchange.publish(
            aio_pika.Message(json.dumps(spec).encode(), correlation_id=message.correlation_id),
            routing_key=message.reply_to or "",
            mandatory=False,
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.queue.delete(if_unused=False, if_empty=False)
        await self.channel.close()


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, step: float = 0.05
) -> None:
    """A bounded poll: returns once ``predicate()`` holds, fails the test after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 15.0, what: str = "condition"
) -> None:
    """A bounded poll of an async check: returns once it holds, fails after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(0.1)


async def queue_depth(connection: AbstractConnection, name: str) -> int:
    """Messages waiting in a queue (a passive declare on a channel of its own)."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(name, passive=True)
    finally:
        await channel.close()
    return queue.declaration_result.message_count or 0


async def wait_for_depth(connection: AbstractConnection, name: str, want: int) -> None:
    async def reached() -> bool:
        return await queue_depth(connection, name) == want

    await eventually(reached, timeout=10, what=f"{name} holding {want} messages")
