"""Acking a consumer channel's handled messages in batches, never past one still in flight.

One ack frame per message costs the consumer (and the broker) more than the handler of a
cheap message does. Handled messages are collected here instead, and one
``basic.ack(multiple=True)`` settles all of them: its tag is the highest handled one below
every message still in flight, so no message being handled (or failing) is ever acked by
a batch. A handled message above one still in flight waits one more round (or
``HOLD_SECONDS``), then is acked on its own: a slow message holds back no acks for long,
so it never fills the prefetch window. A message settled alone (nacked, dead-lettered,
retried) leaves the set of those in flight once its own settle is on the wire; a multiple
ack passes over it, as the broker no longer holds it. Acks lost with the channel are
harmless: those messages come back (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from shared.platform.amqp_link import AmqpLink

logger = logging.getLogger(__name__)
HOLD_SECONDS = 0.02  # the longest a handled message waits behind one still in flight


class BatchAcks:
    """The acks of one link's deliveries; one flusher task sends them."""

    def __init__(self, link: AmqpLink) -> None:
        self._link = link
        self._inflight: set[int] = set()
        self._handled: list[int] = []
        self._held: set[int] = set()  # handled, but held back by one in flight last round
        self._wake = asyncio.Event()
        self._closing = False
        self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    def taken(self, tag: int) -> None:
        """A delivery is being handled."""
        self._inflight.add(tag)

    def handled(self, tag: int) -> None:
        """A delivery is done with: ack it with the next batch."""
        self._inflight.discard(tag)
        self._handled.append(tag)
        self._wake.set()

    def settled(self, tag: int) -> None:
        """A delivery was acked, nacked or rejected on its own (its frame is sent)."""
        self._inflight.discard(tag)
        if self._handled:
            self._wake.set()  # it may have held a batch back

    async def close(self) -> None:
        """Sends what is handled, then stops the flusher (a message handled later is not
        acked: it comes back once the connection closes)."""
        self._closing = True
        self._wake.set()
        await asyncio.gather(self._flusher, return_exceptions=True)

    def _round(self) -> tuple[int | None, list[int]]:
        """What to ack now: a tag for ``multiple=True`` (or None) and tags to ack alone
        (held back a round already, or all of them when closing); forgets them, and holds
        the rest."""
        floor = min(self._inflight, default=None)
        if floor is None:
            below, above = self._handled, []
        else:
            below = [tag for tag in self._handled if tag < floor]
            above = [tag for tag in self._handled if tag > floor]
        alone = [tag for tag in above if self._closing or tag in self._held]
        self._held = {tag for tag in above if not (self._closing or tag in self._held)}
        self._handled = list(self._held)
        return max(below, default=None), alone

    async def _flush_forever(self) -> None:
        while not self._closing or self._wake.is_set():
            if self._held:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), HOLD_SECONDS)
            else:
                await self._wake.wait()
            self._wake.clear()
            batch, alone = self._round()
            try:
                if batch is not None:
                    await self._link.basic_ack(batch, multiple=True)
                for tag in alone:
                    await self._link.basic_ack(tag)
            except OSError as exc:  # LinkClosed
                logger.info("acks lost with their link: %s", exc)
                return  # the link is gone; its unacked deliveries come back
