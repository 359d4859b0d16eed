"""The compiled-rule cache: read once per tenant within its ttl, read again after it, and
at once after ``forget`` (what a ``rules.changed`` control notice calls). In-memory fakes
of the rule store and the tenant directory, and a clock the test moves."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson.int64 import Int64
from prometheus_client import CollectorRegistry, Counter

from services.replies.cache import RuleSetCache
from services.replies.inbound import inbound_of
from services.replies.matching import RuleSet
from tests.support.fakes import FakeClock, FakeRuleStore, FakeTimezones, message

TTL = 30.0


def keyword(rule_id: str, pattern: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": rule_id,
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": "exact", "pattern": pattern},
        "reply": {"type": "text", "content": f"re: {pattern}"},
    }


def answering(rule_set: RuleSet, text: str) -> str | None:
    """The id of the rule that answers ``text``, if any."""
    rule = rule_set.match(inbound_of(message(content=text)), datetime.now(UTC))
    return None if rule is None else rule.id


def cache_over(store: FakeRuleStore, clock: FakeClock) -> RuleSetCache:
    zones = FakeTimezones(zones={"acme": "Asia/Shanghai", "beta": "Europe/Berlin"})
    return RuleSetCache(store, zones, clock=clock, ttl=TTL)


@pytest.fixture
def store() -> FakeRuleStore:
    return FakeRuleStore(
        rules={"acme": [keyword("r-price", "price")], "beta": [keyword("r-hours", "hours")]}
    )


async def test_cached_within_the_ttl(store: FakeRuleStore) -> None:
    clock = FakeClock()
    cache = cache_over(store, clock)

    first = await cache.get("acme")
    clock.advance(TTL - 0.1)
    again = await cache.get("acme")

    assert again is first
    assert store.reads == {"acme": 1}
    assert answering(first, "price") == "r-price"
    assert first.tz == ZoneInfo("Asia/Shanghai")


async def test_read_again_after_the_ttl(store: FakeRuleStore) -> None:
    clock = FakeClock()
    cache = cache_over(store, clock)
    await cache.get("acme")
    store.rules["acme"] = [keyword("r-discount", "discount")]  # changed, no notice

    clock.advance(TTL)
    rule_set = await cache.get("acme")

    assert store.reads == {"acme": 2}
    assert answering(rule_set, "discount") == "r-discount"
    assert answering(rule_set, "price") is None


async def test_read_again_right_after_forget(store: FakeRuleStore) -> None:
    clock = FakeClock()
    cache = cache_over(store, clock)
    await cache.get("acme")
    store.rules["acme"] = [keyword("r-discount", "discount")]

    cache.forget("acme")  # the rules.changed notice
    rule_set = await cache.get("acme")

    assert store.reads == {"acme": 2}
    assert answering(rule_set, "discount") == "r-discount"


async def test_cached_per_tenant(store: FakeRuleStore) -> None:
    clock = FakeClock()
    cache = cache_over(store, clock)
    acme, beta = await cache.get("acme"), await cache.get("beta")

    cache.forget("acme")
    await cache.get("acme")
    assert await cache.get("beta") is beta

    assert store.reads == {"acme": 2, "beta": 1}
    assert answering(acme, "hours") is None
    assert answering(beta, "hours") == "r-hours"
    assert beta.tz == ZoneInfo("Europe/Berlin")


async def test_forgetting_an_uncached_tenant_is_harmless(store: FakeRuleStore) -> None:
    cache = cache_over(store, FakeClock())

    cache.forget("nobody")

    assert store.reads == {}


class SlowStore(FakeRuleStore):
    """Its read takes what is stored, then answers only when ``gate`` opens."""

    def __init__(self, rules: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(rules=rules)
        self.reading = asyncio.Event()
        self.gate = asyncio.Event()

    async def all(self, tenant_id: str) -> list[dict[str, Any]]:
        stored = await super().all(tenant_id)
        self.reading.set()
        await self.gate.wait()
        return stored


async def test_a_change_notice_during_a_read_is_not_lost() -> None:
    store = SlowStore(rules={"acme": [keyword("r-price", "price")]})
    clock = FakeClock()
    cache = cache_over(store, clock)
    reading = asyncio.ensure_future(cache.get("acme"))
    await store.reading.wait()  # it has read the old rules

    store.rules["acme"] = [keyword("r-discount", "discount")]
    cache.forget("acme")  # the rules.changed notice arrives
    store.gate.set()
    await reading

    assert answering(await cache.get("acme"), "discount") == "r-discount"


async def test_a_stored_rule_that_does_not_validate_is_skipped_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = {**keyword("r-huge", "price"), "priority": Int64(2**40)}  # would win if loaded
    store = FakeRuleStore(rules={"acme": [bad, {"id": "r-junk"}, keyword("r-price", "price")]})
    skipped = Counter("skipped", "rules skipped", registry=CollectorRegistry())
    cache = RuleSetCache(store, FakeTimezones(), clock=FakeClock(), ttl=TTL, skipped=skipped)

    with caplog.at_level(logging.WARNING, logger="services.replies.cache"):
        rule_set = await cache.get("acme")

    assert answering(rule_set, "price") == "r-price"
    assert skipped._value.get() == 2
    logged = [r.getMessage() for r in caplog.records]
    assert any("acme" in line and "r-huge" in line and "priority" in line for line in logged)
    assert any("acme" in line and "r-junk" in line for line in logged)
