"""Each service queue takes only what its service uses, on the real broker."""

from __future__ import annotations

import dataclasses
import json
import secrets

from services.gateway.messages import REPLYABLE_EVENTS
from shared.contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    REPLIES_BINDINGS,
    declare_exchanges,
    declare_queue,
    service_queues,
)
from tests.shared.test_consumer import envelope, publish
from tests.support.bus import delete_queue_and_twins, queue_depth, wait_for_depth


def test_replies_is_bound_to_every_event_the_gateway_waits_on_it_for():
    assert {f"*.event.{name}" for name in REPLYABLE_EVENTS} <= set(REPLIES_BINDINGS)
    assert "*.msg.*" in REPLIES_BINDINGS
    assert "*.reply.fallback" in REPLIES_BINDINGS


async def test_a_view_event_reaches_analytics_but_not_replies_and_a_text_reaches_both(amqp):
    tenant = f"b{secrets.token_hex(4)}"
    queues = service_queues(f"bind{secrets.token_hex(3)}")
    channel = await amqp.channel()
    try:
        # as an earlier version left it: replies bound to every event
        events = await declare_exchanges(channel)
        old = await channel.declare_queue(
            queues["replies"].name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": queues["replies"].delivery_limit,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": queues["replies"].name,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        await old.bind(events, routing_key="*.event.*")
        for spec in queues.values():
            await declare_queue(channel, spec)
        view = dataclasses.replace(envelope(tenant, 1), id="view1", type="event.view")
        text = envelope(tenant, 2)
        await publish(amqp, view.routing_key, view.to_bytes())
        await publish(amqp, text.routing_key, text.to_bytes())

        await wait_for_depth(amqp, queues["analytics"].name, 2)
        await wait_for_depth(amqp, queues["replies"].name, 1)
        replies = await channel.declare_queue(queues["replies"].name, passive=True)
        taken = await replies.get(no_ack=True, timeout=5)
        assert json.loads(taken.body)["type"] == "msg.text"
        assert await queue_depth(amqp, queues["scheduler"].name) == 0
    finally:
        await channel.close()
        for spec in queues.values():
            await delete_queue_and_twins(amqp, spec)
