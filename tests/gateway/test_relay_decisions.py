"""The relay's decisions (claim, publish, release, stop at the first failure), against
in-memory fakes of the outbox, the publisher and the marks: no broker, no database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo.errors import AutoReconnect

from services.gateway.dispatch import Backlog, Dispatch
from services.gateway.metrics import GatewayMetrics
from services.gateway.outbox import Kept
from services.gateway.relay import RELAY_CONFIRM_TIMEOUT, Relay
from shared.platform.bus import BrokerUnavailable
from tests.support.fakes import FakeMarks, FakeOutbox, FakePublisher, message


@dataclass
class Setup:
    outbox: FakeOutbox
    publisher: FakePublisher
    marks: FakeMarks
    backlog: Backlog
    metrics: GatewayMetrics
    relay: Relay


async def relay_over(*event_ids: str, outbox: FakeOutbox | None = None) -> Setup:
    """A relay over an outbox holding ``event_ids`` (kept in that order), backlog active."""
    outbox = outbox or FakeOutbox()
    for event_id in event_ids:
        await outbox.keep(message(event_id))
    publisher, marks, backlog = FakePublisher(), FakeMarks(), Backlog(active=bool(event_ids))
    outbox.notes = marks
    metrics = GatewayMetrics.create(CollectorRegistry())

    async def purge() -> int:
        return 0

    relay = Relay(
        outbox=outbox,
        publisher=publisher,
        backlog=backlog,
        metrics=metrics,
        connected=lambda: True,
        purge=purge,
        interval=60.0,
    )
    return Setup(outbox, publisher, marks, backlog, metrics, relay)


def relayed(s: Setup) -> float:
    value: float = s.metrics.published.labels("relay")._value.get()
    return value


async def test_publishes_kept_events_in_order_releasing_and_noting_each() -> None:
    s = await relay_over("m1", "m2", "m3")
    bodies = [item.body for item in s.outbox.items]

    await s.relay.run_pass()

    assert s.publisher.ids == ["m1", "m2", "m3"]
    assert [sent.body for sent in s.publisher.sent] == bodies
    assert [sent.routing_key for sent in s.publisher.sent] == ["acme.msg.text"] * 3
    assert s.outbox.released == ["m1", "m2", "m3"]
    assert s.outbox.items == []
    assert s.outbox.claims == set()
    assert set(s.marks.notes) == {"m1", "m2", "m3"}
    assert relayed(s) == 3
    assert not s.backlog.active  # the next pass found it empty


async def test_publishes_with_the_relay_confirm_timeout_and_the_kept_headers() -> None:
    outbox = FakeOutbox(items=[Kept("m1", "acme", "acme.msg.text", b"{}", {"x-h": 1})])
    s = await relay_over(outbox=outbox)

    await s.relay.run_pass()

    assert s.publisher.sent[0].confirm_timeout == RELAY_CONFIRM_TIMEOUT
    assert s.publisher.sent[0].headers == {"x-h": 1}


async def test_stops_at_the_first_event_another_replica_has_claimed() -> None:
    s = await relay_over("m1", "m2", "m3")
    s.outbox.claims.add("m2")  # another gateway is relaying from m2 on

    await s.relay.run_pass()

    assert s.publisher.ids == ["m1"]
    assert s.outbox.ids == ["m2", "m3"]
    assert s.outbox.released == ["m1"]
    assert s.backlog.active  # still kept events: new ones still go behind them


async def test_broker_unavailable_unclaims_and_stops_keeping_the_order() -> None:
    s = await relay_over("m1", "m2", "m3")
    s.publisher.confirms = 1  # m1 is confirmed, then the broker goes away

    await s.relay.run_pass()

    assert s.publisher.ids == ["m1"]
    assert s.outbox.released == ["m1"]
    assert s.outbox.ids == ["m2", "m3"]
    assert s.outbox.claims == set()  # m2 unclaimed: any replica may take it next time
    assert set(s.marks.notes) == {"m1"}
    assert s.backlog.active


async def test_broker_unavailable_from_the_start_releases_nothing() -> None:
    s = await relay_over("m1", "m2")
    s.publisher.break_down()

    await s.relay.run_pass()

    assert s.publisher.sent == []
    assert s.outbox.released == []
    assert s.outbox.ids == ["m1", "m2"]
    assert s.outbox.claims == set()
    assert s.marks.notes == {}
    assert relayed(s) == 0


async def test_the_next_pass_resumes_where_the_last_stopped() -> None:
    s = await relay_over("m1", "m2", "m3")
    s.publisher.confirms = 1
    await s.relay.run_pass()
    s.publisher.recover()

    await s.relay.run_pass()

    assert s.publisher.ids == ["m1", "m2", "m3"]
    assert not s.backlog.active


async def test_an_empty_outbox_clears_the_backlog() -> None:
    s = await relay_over()
    s.backlog.active = True

    await s.relay.run_pass()

    assert not s.backlog.active
    assert s.publisher.sent == []


class SlowReadOutbox(FakeOutbox):
    """Its ``kept`` reads the outbox, then answers only when ``gate`` opens (a slow query)."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.gate = asyncio.Event()

    async def kept(self, limit: int) -> list[Kept]:
        snapshot = await super().kept(limit)
        self.reading.set()
        await self.gate.wait()
        return snapshot


async def test_an_event_kept_while_the_relay_reads_an_empty_outbox_stays_ahead() -> None:
    outbox = SlowReadOutbox()
    s = await relay_over(outbox=outbox)
    dispatch = Dispatch(
        publisher=s.publisher, keeper=outbox, marks=s.marks, metrics=s.metrics, backlog=s.backlog
    )
    relay_pass = asyncio.ensure_future(s.relay.run_pass())
    await outbox.reading.wait()  # the relay's query has seen an empty outbox

    s.publisher.break_down()  # the broker does not confirm m1: it is kept
    await dispatch.publish_or_keep(message("m1"))
    s.publisher.recover()
    outbox.gate.set()
    await relay_pass
    await dispatch.publish_or_keep(message("m2"))

    # m1 was accepted first: m2 must not be on the bus while m1 still waits in the outbox
    assert not ("m2" in s.publisher.ids and "m1" in outbox.ids)


async def test_a_late_confirm_is_awaited_and_the_event_is_never_published_twice() -> None:
    """Issue 8: a confirm slower than the webhook's bound got the event kept, and the relay
    published it again. Now it is kept held until its confirm settles."""
    s = await relay_over()
    dispatch = Dispatch(
        publisher=s.publisher, keeper=s.outbox, marks=s.marks, metrics=s.metrics, backlog=s.backlog
    )
    s.publisher.late = True
    await dispatch.publish_or_keep(message("m1"))
    s.publisher.late = False
    assert s.outbox.ids == ["m1"]
    assert "m1" in s.outbox.claims  # kept, held

    await s.relay.run_pass()  # the hold stops the relay: m1 may be on the bus already
    s.publisher.pending[0].set_result(None)  # the broker confirms, late
    await dispatch.drain()
    await s.relay.run_pass()

    assert s.publisher.ids == ["m1"]
    assert s.outbox.released == ["m1"]
    assert "m1" in s.marks.notes
    assert not s.backlog.active


async def test_a_late_confirm_that_fails_hands_the_event_to_the_relay() -> None:
    s = await relay_over()
    dispatch = Dispatch(
        publisher=s.publisher, keeper=s.outbox, marks=s.marks, metrics=s.metrics, backlog=s.backlog
    )
    s.publisher.late = True
    await dispatch.publish_or_keep(message("m1"))
    s.publisher.late = False

    s.publisher.pending[0].set_exception(BrokerUnavailable("channel closed"))
    await dispatch.drain()
    await s.relay.run_pass()

    assert s.publisher.ids == ["m1", "m1"]  # the first never reached the queues' confirm
    assert s.outbox.released == ["m1"]
    assert relayed(s) == 1


async def test_the_relay_holds_its_claim_while_its_own_confirm_is_late() -> None:
    s = await relay_over("m1", "m2")
    s.relay.confirm_timeout = 0.05
    s.publisher.late = True

    await s.relay.run_pass()

    assert s.publisher.ids == ["m1"]
    assert s.outbox.claims == {"m1"}  # not unclaimed: it may be on the bus
    assert s.outbox.released == []


class SlowPublisher(FakePublisher):
    async def publish_raw(self, body: bytes, **kwargs: Any) -> None:
        await asyncio.sleep(0.06)
        await super().publish_raw(body, **kwargs)


async def test_a_relay_lets_its_claims_go_before_they_could_expire_mid_publish() -> None:
    """A claim that expired while its holder still publishes would let another replica
    publish the same event: the relay stops while the longest publish still fits."""
    s = await relay_over("m1", "m2", "m3", "m4")
    s.relay.publisher = SlowPublisher()
    s.relay.confirm_timeout, s.relay.claim_for = 0.01, 0.1

    await s.relay.run_pass()

    assert s.relay.publisher.ids == ["m1", "m2"]
    assert s.outbox.released == ["m1", "m2"]
    assert s.outbox.claims == set()  # m3 and m4 let go: claimed afresh next pass
    assert s.backlog.active


async def test_a_release_that_fails_is_made_at_the_next_pass_not_published_again() -> None:
    """The database went away between the confirms and the release: the events stay
    claimed by this replica, and its next pass releases them before anything else; no
    second copy goes out once the claims expire (fault seed 25690 doubled 50 this way)."""
    s = await relay_over("m1", "m2")
    real_publish = s.publisher.publish_raw

    async def publish_then_lose_the_database(*args: Any, **kwargs: Any) -> None:
        await real_publish(*args, **kwargs)
        s.outbox.down = True

    s.publisher.publish_raw = publish_then_lose_the_database  # type: ignore[method-assign]
    with pytest.raises(AutoReconnect):  # the pass fails on the database, as the real one
        await s.relay.run_pass()
    assert s.publisher.ids == ["m1", "m2"]  # one chunk: published, then released together
    assert s.outbox.ids == ["m1", "m2"]  # nothing released yet
    assert s.relay.unreleased == {"m1": "acme", "m2": "acme"}

    s.outbox.down = False
    s.publisher.publish_raw = real_publish  # type: ignore[method-assign]
    await s.relay.run_pass()
    assert s.publisher.ids == ["m1", "m2"]  # once each
    assert s.outbox.released == ["m1", "m2"]
    assert s.relay.unreleased == {}
