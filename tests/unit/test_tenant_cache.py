"""The gateway's cache of webhook credentials, over an in-memory repository: what it
keeps when random ids flood it, and what it serves while the database is away."""

from __future__ import annotations

import secrets
from datetime import datetime

import pytest

from services.gateway.bounded import DatabaseSlow
from services.gateway.breaker import Breaker
from services.gateway.tenant_cache import TenantCache
from services.gateway.verify import Credentials
from tests.support.fakes import database_down

ACME = Credentials(token="t", appid="wx0123456789abcdef", encrypt_mode="plain")


class Repository:
    """Credentials by tenant id; ``down`` makes every lookup fail as an absent database."""

    def __init__(self) -> None:
        self.tenants = {"acme": ACME}
        self.down = False
        self.lookups = 0

    async def credentials(self, tenant_id: str, *, now: datetime) -> Credentials | None:
        self.lookups += 1
        if self.down:
            raise database_down()
        return self.tenants.get(tenant_id)


async def test_a_flood_of_unknown_ids_keeps_a_real_entry_and_its_stale_fallback() -> None:
    repository = Repository()
    cache = TenantCache(repository, ttl=0.0)  # every entry stale at once: only the fallback
    assert await cache.get("acme") == ACME
    for _ in range(60_000):
        assert await cache.get("t" + secrets.token_hex(8)) is None
    repository.down = True
    assert await cache.get("acme") == ACME  # stale, served while the database is away


async def test_without_any_entry_a_database_outage_is_raised() -> None:
    repository = Repository()
    repository.down = True
    cache = TenantCache(repository, ttl=5.0)
    with pytest.raises(DatabaseSlow):  # the webhook answers 503: WeChat retries
        await cache.get("acme")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_after_one_failure_the_database_is_left_alone_for_the_pause() -> None:
    repository = Repository()
    repository.tenants["beta"] = ACME
    clock = Clock()
    cache = TenantCache(repository, ttl=0.0, breaker=Breaker(pause=5.0, clock=clock))
    assert await cache.get("acme") == ACME
    assert await cache.get("beta") == ACME
    repository.down = True
    assert await cache.get("acme") == ACME  # asked, failed: the stale copy, breaker tripped
    asked = repository.lookups
    assert await cache.get("beta") == ACME  # not asked: a bounded wait per webhook is enough
    with pytest.raises(DatabaseSlow):
        await cache.get("never-seen")
    assert repository.lookups == asked
    clock.now = 5.0
    repository.down = False
    assert await cache.get("beta") == ACME
    assert repository.lookups == asked + 1  # the pause is over: asked again
