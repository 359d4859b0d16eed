"""The outbox gauges (``OutboxWatch``) over the real FerretDB and RabbitMQ: events kept the
way the gateway keeps them while its broker is away, their count and the oldest's age read
whether or not the broker is connected, and 0 once the relay has published them."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp import ClientSession
from prometheus_client import CollectorRegistry

from services.gateway.dispatch import Dispatch
from services.gateway.marks import PublishedMarks
from services.gateway.metrics import GatewayMetrics
from services.gateway.outbox import Collections, Outbox
from services.gateway.relay import OutboxWatch, Relay, oldest_age
from shared.platform.bus import Broker
from shared.platform.publisher import EventPublisher
from shared.platform.storage import Client
from tests.support.bus import Tap, wait_until
from tests.support.fakes import message
from tests.support.infra import amqp_url

NOW = 1_800_000_000.0  # seconds since the epoch


def test_the_age_is_counted_from_the_oldest_events_seq() -> None:
    kept_at_ns = int((NOW - 42.5) * 1e9)
    assert oldest_age(kept_at_ns, NOW) == pytest.approx(42.5)


def test_an_empty_outbox_is_age_0() -> None:
    assert oldest_age(None, NOW) == 0.0


def test_an_event_kept_by_a_replica_whose_clock_runs_ahead_is_age_0() -> None:
    assert oldest_age(int((NOW + 2) * 1e9), NOW) == 0.0


@dataclass
class WallClock:
    """The wall clock, remembering what it last told the watch."""

    last: float = 0.0

    def __call__(self) -> float:
        self.last = time.time()
        return self.last


@pytest.fixture
def collections(outbox_collections: Collections) -> Collections:
    return outbox_collections


async def test_kept_events_age_while_the_broker_is_away_and_are_0_once_relayed(
    collections: Collections, mongo: Client, tap_factory: Callable[..., Awaitable[Tap]]
) -> None:
    tenant = f"obx{secrets.token_hex(4)}"
    tap = await tap_factory([f"{tenant}.#"], answer=None)
    registry = CollectorRegistry()
    metrics = GatewayMetrics.create(registry)
    outbox = Outbox(collections, replica="gw-test", claim_for=timedelta(seconds=45))
    # The gateway's publisher with no broker connection yet: each publish is refused at
    # once, as while the broker is away, and the dispatch keeps the event.
    publisher = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
    broker = Broker(amqp_url(), name="wxp-test-outbox-watch", on_connect=[publisher.setup])
    dispatch = Dispatch(
        publisher=publisher,
        keeper=outbox,
        marks=PublishedMarks(mongo, window=timedelta(minutes=15)),
        metrics=metrics,
    )

    async def purge() -> int:
        return 0

    relay = Relay(
        outbox=outbox,
        publisher=publisher,
        backlog=dispatch.backlog,
        metrics=metrics,
        connected=lambda: broker.connected,
        purge=purge,
        interval=0.05,
    )
    clock = WallClock()
    watch = OutboxWatch(outbox=collections.outbox, metrics=metrics, interval=0.05, clock=clock)

    def backlog() -> float:
        return registry.get_sample_value("wxp_gateway_outbox_backlog") or 0.0

    def age() -> float:
        return registry.get_sample_value("wxp_gateway_outbox_oldest_seconds") or 0.0

    loops = [asyncio.create_task(loop()) for loop in (relay.run, watch.run)]
    connecting: asyncio.Task[None] | None = None
    try:
        first, second = message("w-1", tenant=tenant), message("w-2", tenant=tenant)
        first_before = time.time()
        await dispatch.publish_or_keep(first)
        first_after = time.time()
        await wait_until(lambda: age() >= 0.3, 5, what="the first kept event aging")
        await dispatch.publish_or_keep(second)  # queued behind the first
        await wait_until(lambda: backlog() == 2, 5, what="both events counted")

        now, oldest = clock.last, age()  # the read that set the gauges
        assert now - first_after <= oldest <= now - first_before  # the first event's age
        assert not broker.connected
        assert tap.events == []

        connecting = asyncio.create_task(broker.run())
        await wait_until(lambda: len(tap.events) == 2, 15, what="the relay publishing both")
        await wait_until(lambda: backlog() == 0 and age() == 0, 5, what="the gauges at 0")
        assert [event.id for event in tap.events] == [first.id, second.id]
    finally:
        for task in [*loops, *([connecting] if connecting else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await publisher.close()


async def test_the_gateway_serves_the_outbox_gauges_and_runs_their_loop(
    gateway: str, http: ClientSession
) -> None:
    async with http.get(f"{gateway}/metrics") as response:
        text = await response.text()
    assert re.search(r"^wxp_gateway_outbox_oldest_seconds [0-9.e+]+$", text, re.M)
    assert re.search(r"^wxp_gateway_outbox_backlog [0-9.e+]+$", text, re.M)
    assert 'wxp_background_task_up{task="OutboxWatch.run"} 1.0' in text
