"""Names and shapes of everything on the broker: one place, declared idempotently.

Each consumer service owns one durable quorum queue bound to ``wx.events``; a message
that keeps failing (``x-delivery-limit``) or is rejected goes through ``wx.dlx`` to the
queue's ``.dlq`` twin, where an operator can inspect and replay it. A message that should
be tried again later (a rate limit, a database away) waits in the queue's ``.retry`` twin:
its TTL dead-letters it back to the queue through the default exchange after the delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

EVENTS_EXCHANGE = "wx.events"
DEAD_LETTER_EXCHANGE = "wx.dlx"
DEFAULT_DELIVERY_LIMIT = 5
# Fixed when the queue is declared (RabbitMQ refuses to redeclare it with another TTL).
# Five retries of 10 s outlast WeChat's per-minute quota for most of a minute, and a
# stale customer-service claim (services/replies/claims.py, 30 s).
RETRY_DELAY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    bindings: tuple[str, ...]
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT  # also bounds the delayed retries
    retry_delay: float = RETRY_DELAY_SECONDS
    # Bindings an earlier version declared: a queue keeps its bindings, so each declare
    # removes these (removing one that is not there is a no-op).
    retired: tuple[str, ...] = ()

    @property
    def dead_letter_name(self) -> str:
        return f"{self.name}.dlq"

    @property
    def retry_name(self) -> str:
        return f"{self.name}.retry"


# What the replies service can answer: readers' messages, the events WeChat lets it answer
# passively (the gateway's REPLYABLE_EVENTS), and its own fallbacks. A VIEW, LOCATION or
# job-finish event would cost it a quorum-queue write and a delivery for nothing.
REPLIES_BINDINGS = (
    "*.msg.*",
    "*.event.subscribe",
    "*.event.scan",
    "*.event.click",
    "*.event.scancode_waitmsg",
    "*.reply.fallback",
)


def service_queues(prefix: str = "wxp") -> dict[str, QueueSpec]:
    """The canonical queue of each consumer service, by service name; each is bound to
    what its service uses (analytics: everything)."""
    return {
        "replies": QueueSpec(f"{prefix}.replies", REPLIES_BINDINGS, retired=("*.event.*",)),
        "scheduler": QueueSpec(
            f"{prefix}.scheduler",
            (
                "*.event.masssendjobfinish",
                "*.analytics.send_time",
                "*.analytics.broadcast_impact",
            ),
            retired=("*.event.templatesendjobfinish",),
        ),
        "analytics": QueueSpec(f"{prefix}.analytics", ("#",)),
    }


async def declare_exchanges(channel: AbstractChannel) -> AbstractExchange:
    await channel.declare_exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    return await channel.declare_exchange(
        EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )


async def declare_queue(channel: AbstractChannel, spec: QueueSpec) -> AbstractQueue:
    """Declares the queue, its bindings, its dead-letter path and its retry queue; returns
    the queue."""
    events = await declare_exchanges(channel)
    dlx = await channel.get_exchange(DEAD_LETTER_EXCHANGE, ensure=False)
    dlq = await channel.declare_queue(
        spec.dead_letter_name, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dlx, routing_key=spec.name)
    await channel.declare_queue(
        spec.retry_name,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-message-ttl": round(spec.retry_delay * 1000),
            "x-dead-letter-exchange": "",  # the default exchange: straight to the queue
            "x-dead-letter-routing-key": spec.name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": spec.delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": spec.name,
            # Dead-letter at least once: a message is kept until the DLQ confirms it.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )
    for key in spec.bindings:
        await queue.bind(events, routing_key=key)
    for key in spec.retired:
        await queue.unbind(events, routing_key=key)
    return queue
