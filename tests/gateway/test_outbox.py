"""The outbox and its claims on the real FerretDB: what two gateway replicas share."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from services.gateway.dispatch import Backlog
from services.gateway.marks import NOTES
from services.gateway.metrics import GatewayMetrics
from services.gateway.outbox import Collections, Outbox
from services.gateway.relay import Relay
from tests.support.fakes import FakePublisher, message

CLAIM = timedelta(seconds=60)


@pytest.fixture
def collection(outbox_collections: Collections) -> Collections:
    return outbox_collections


async def noted(collections: Collections, event_id: str) -> bool:
    """The event's published note is in one of the notes' slices."""
    for name in await NOTES.existing(collections.notes):
        if await collections.notes[name].find_one({"_id": event_id}) is not None:
            return True
    return False


def replicas(collection: Collections) -> tuple[Outbox, Outbox]:
    return (
        Outbox(collection, replica="gw-a", claim_for=CLAIM),
        Outbox(collection, replica="gw-b", claim_for=CLAIM),
    )


async def test_a_released_event_cannot_be_claimed_from_a_stale_snapshot(
    collection: Collections,
) -> None:
    """Issue 8, finding 3: replica A read the outbox, replica B then relayed and released
    the first event; A's claim of it, from its old snapshot, must fail."""
    a, b = replicas(collection)
    event = message("e-1")
    await a.keep(event)
    snapshot = await a.kept(500)

    assert (await b.claim([event.id])).event_ids == [event.id]
    await b.release({event.id: event.tenant_id})

    assert [kept.event_id for kept in snapshot] == [event.id]
    assert (await a.claim([event.id])).event_ids == []
    assert not await a.holds(event.id)
    assert await noted(collection, event.id)  # noted for retries


async def test_a_claim_excludes_the_other_replica_until_unclaimed(
    collection: Collections,
) -> None:
    a, b = replicas(collection)
    event = message("e-1")
    await a.keep(event)

    assert (await a.claim([event.id])).event_ids == [event.id]
    assert (await b.claim([event.id])).stopped
    await b.unclaim([event.id])  # not b's claim: changes nothing
    assert (await b.claim([event.id])).stopped
    await a.unclaim([event.id])
    assert (await b.claim([event.id])).event_ids == [event.id]
    assert await a.holds(event.id)


async def test_an_event_kept_with_a_hold_is_claimed_by_nobody_until_it_ends(
    collection: Collections,
) -> None:
    a, b = replicas(collection)
    held = message("e-held")
    await a.keep(held, hold=60.0)

    assert (await a.claim([held.id])).stopped
    assert (await b.claim([held.id])).stopped
    await a.unclaim([held.id])  # the late confirm failed: the relay may publish it
    assert (await b.claim([held.id])).event_ids == [held.id]


async def test_an_expired_claim_is_taken_over(
    collection: Collections,
) -> None:
    a = Outbox(collection, replica="gw-a", claim_for=timedelta(seconds=-1))  # expired at once
    b = Outbox(collection, replica="gw-b", claim_for=CLAIM)
    event = message("e-1")
    await a.keep(event)

    assert (await a.claim([event.id])).event_ids == [event.id]
    assert (await b.claim([event.id])).event_ids == [event.id]


async def test_a_dead_replicas_run_of_expired_claims_is_taken_over_in_one_claim(
    collection: Collections,
) -> None:
    """The relay takes over a killed replica's claims in one pass, not one event a pass
    (a fault run's outbox took longer than its drain window to empty, one event every
    relay interval)."""
    a = Outbox(collection, replica="gw-a", claim_for=timedelta(seconds=-1))  # expired at once
    b = Outbox(collection, replica="gw-b", claim_for=CLAIM)
    events = [message(f"e-{n}") for n in range(5)]
    for event in events:
        await a.keep(event)
    ids = [event.id for event in events]
    assert (await a.claim(ids[:3])).event_ids == ids[:3]  # e-3 and e-4 are nobody's

    claimed = await b.claim(ids)
    assert claimed.event_ids == ids
    assert not claimed.stopped


async def test_released_events_leave_the_outbox_and_waiting_ones_stay(
    collection: Collections,
) -> None:
    a, _ = replicas(collection)
    published, waiting = (message(f"e-{n}") for n in (1, 2))
    for event in (published, waiting):
        await a.keep(event)

    await a.release({published.id: published.tenant_id})

    assert [kept.event_id for kept in await a.kept(10)] == [waiting.id]
    assert await noted(collection, published.id)


async def test_two_relays_over_one_outbox_publish_each_event_once_in_order(
    collection: Collections,
) -> None:
    """The race the issue saw from outside (282 duplicates of 600), on the real database:
    two replicas relay the same backlog at once, over and over."""
    outboxes = replicas(collection)
    events = [message(f"e-{n:03d}") for n in range(60)]
    for event in events:
        await outboxes[0].keep(event)
    publisher = FakePublisher()  # one broker, shared: what reached the bus
    metrics = GatewayMetrics.create(CollectorRegistry())

    async def purge() -> int:
        return 0

    relays = [
        Relay(
            outbox=outbox,
            publisher=publisher,
            backlog=Backlog(active=True),
            metrics=metrics,
            connected=lambda: True,
            purge=purge,
            interval=60.0,
        )
        for outbox in outboxes
    ]

    async def relay_until_done(relay: Relay) -> None:
        for _ in range(200):
            await relay.run_pass()
            if not await outboxes[0].holds(events[-1].id):
                return

    await asyncio.gather(*(relay_until_done(relay) for relay in relays))

    assert [n for n, times in Counter(publisher.ids).items() if times > 1] == []
    assert publisher.ids == [event.id for event in events]
