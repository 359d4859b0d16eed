"""A test peer on the real broker: a tap that records what the gateway published
and, when given ``answer``, replies to passive-reply requests like the replies
service does (after ``delay`` seconds). It takes bundles apart (``shared/contracts/
bundle.py``) and keeps the members its keys name, as a consumer bound to them would,
answering each member that asks.

And the one polling loop every test awaits effects with: ``eventually`` / ``wait_until``
(something happens within a bound) and ``continually`` / ``stays_true`` (nothing
happens for a whole window)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from shared.contracts.bundle import (
    ASKS_HEADER,
    BUNDLE_CONTENT_TYPE,
    BUNDLE_TENANT,
    ask_of,
    decode_bundle,
)
from shared.contracts.envelope import Envelope
from shared.contracts.payloads import decode
from shared.contracts.topology import QueueSpec, declare_exchanges

Answer = Callable[[Envelope[Any]], dict[str, Any] | None]


class Tap:
    def __init__(
        self,
        channel: AbstractChannel,
        queue: AbstractQueue,
        answer: Answer | None,
        delay: float,
        keys: list[str],
    ) -> None:
        self.keys = keys
        self.channel = channel
        self.queue = queue
        self.answer = answer
        self.delay = delay
        self.events: list[Envelope[Any]] = []
        self.reply_requests: list[Envelope[Any]] = []
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
            await queue.bind(exchange, routing_key=f"{BUNDLE_TENANT}.{key.partition('.')[2]}")
        tap = cls(channel, queue, answer, delay, keys)
        await queue.consume(tap._on_message, no_ack=True)
        return tap

    def of_type(self, kind: str) -> list[Envelope[Any]]:
        return [e for e in self.events if e.type == kind]

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if message.content_type == BUNDLE_CONTENT_TYPE:
            members = decode_bundle(message.body)
            asks = message.headers.get(ASKS_HEADER)
            for index, member in enumerate(members):
                if any(topic_match(k, member.routing_key) for k in self.keys):
                    self.events.append(member)
                    ask = ask_of(asks, index, len(members))
                    if ask is not None:
                        self._asked(message, member, ask.correlation_id)
            return
        envelope = decode(message.body)
        self.events.append(envelope)
        if message.correlation_id:
            self._asked(message, envelope, message.correlation_id)

    def _asked(
        self, message: AbstractIncomingMessage, envelope: Envelope[Any], correlation_id: str
    ) -> None:
        if message.reply_to and self.answer is not None:
            self.reply_requests.append(envelope)
            task = asyncio.ensure_future(self._reply(message.reply_to, correlation_id, envelope))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _reply(self, reply_to: str, correlation_id: str, envelope: Envelope[Any]) -> None:
        await asyncio.sleep(self.delay)
        assert self.answer is not None
        spec = self.answer(envelope) or {"type": "none"}
        await self.channel.default_exchange.publish(
            aio_pika.Message(json.dumps(spec).encode(), correlation_id=correlation_id),
            routing_key=reply_to,
            mandatory=False,
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.queue.delete(if_unused=False, if_empty=False)
        await self.channel.close()


def topic_match(pattern: str, key: str) -> bool:
    """Whether a topic exchange routes ``key`` to a binding of ``pattern`` (``*``: one
    word, ``#``: any number)."""

    def match(words: list[str], parts: list[str]) -> bool:
        if not words:
            return not parts
        if words[0] == "#":
            return any(match(words[1:], parts[i:]) for i in range(len(parts) + 1))
        return bool(parts) and words[0] in ("*", parts[0]) and match(words[1:], parts[1:])

    return match(pattern.split("."), key.split("."))


STEP = 0.05  # seconds between two looks
LATE = 5.0  # a look still unanswered this long after the window's end fails the poll


async def _poll(
    check: Callable[[], Awaitable[bool]], seconds: float, *, stop_on: bool, step: float = STEP
) -> bool:
    """The one polling loop: looks at ``check()`` every ``step`` for ``seconds``; True as
    soon as a look answers ``stop_on``, False once the window is over without one.

    Looking for something to happen (``stop_on=True``), no look begins after the window;
    making sure nothing happens (``stop_on=False``), the last look begins after it. A look
    must answer within ``LATE`` of the window's end."""
    loop = asyncio.get_running_loop()
    end = loop.time() + max(seconds, 0.0)
    while True:
        began = loop.time()
        timer = asyncio.timeout_at(end + LATE)
        try:
            async with timer:
                answer = await check()
        except TimeoutError:
            if timer.expired():
                raise AssertionError(f"a look still unanswered {LATE}s after the window") from None
            raise
        if bool(answer) is stop_on:
            return True
        if (loop.time() if stop_on else began) >= end:
            return False
        await asyncio.sleep(min(step, max(end - loop.time(), 0.0)))


def _asynchronous(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout: float = 15.0,
    what: str = "condition",
    *,
    step: float = STEP,
) -> None:
    """A bounded poll of an async check: returns once it holds, fails after ``timeout``.
    ``step``: the pause between looks (longer for a look that is itself a load, such as
    an API call under the per-key rate limit)."""
    if not await _poll(check, timeout, stop_on=True, step=step):
        raise AssertionError(f"{what} not met within {timeout}s")


async def continually(
    check: Callable[[], Awaitable[bool]], seconds: float, what: str = "condition"
) -> None:
    """The converse poll: ``check`` must hold at every look for the whole of ``seconds``
    (the last look begins after they are over); fails at the first look where it does not.
    "Nothing arrived" proves something only over a window longer than the time it would
    have taken to arrive."""
    started = asyncio.get_running_loop().time()
    if await _poll(check, seconds, stop_on=False):
        after = asyncio.get_running_loop().time() - started
        raise AssertionError(f"{what}: broken after {after:.2f}s of the {seconds}s window")


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    """``eventually`` for a plain predicate (a tap's list of events, say)."""
    await eventually(_asynchronous(predicate), timeout, what)


async def stays_true(
    predicate: Callable[[], bool], seconds: float, what: str = "condition"
) -> None:
    """``continually`` for a plain predicate."""
    await continually(_asynchronous(predicate), seconds, what)


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


async def delete_queue_and_twins(connection: AbstractConnection, spec: QueueSpec) -> None:
    """A test's queue and its dead-letter and retry twins, on a channel of its own."""
    channel = await connection.channel()
    for name in (spec.name, spec.dead_letter_name, spec.retry_name):
        await channel.queue_delete(name)
    await channel.close()
