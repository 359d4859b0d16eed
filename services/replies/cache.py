"""Compiled rule sets per tenant, per process. A change anywhere reaches every replica
through a ``rules.changed`` control notice; the expiry is only the backstop."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from services.replies.matching import RuleSet
from services.replies.ports import RuleStore, Timezones
from services.replies.validation import validate_rule


class RuleSetCache:
    def __init__(
        self,
        store: RuleStore,
        timezones: Timezones,
        *,
        clock: Callable[[], float],
        ttl: float = 30.0,
    ) -> None:
        self._store = store
        self._timezones = timezones
        self._clock = clock
        self._ttl = ttl
        self._sets: dict[str, tuple[float, RuleSet]] = {}
        self._changes: dict[str, int] = {}  # forget() calls per tenant, to spot a stale read

    async def get(self, tenant_id: str) -> RuleSet:
        now = self._clock()
        hit = self._sets.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self._changes.get(tenant_id, 0)
        stored = await self._store.all(tenant_id)
        timezone = await self._timezones.timezone(tenant_id)
        rule_set = RuleSet.compile([validate_rule(rule) for rule in stored], tz=ZoneInfo(timezone))
        if self._changes.get(tenant_id, 0) == generation:  # else a change came in mid-read
            self._sets[tenant_id] = (now + self._ttl, rule_set)
        return rule_set

    def forget(self, tenant_id: str) -> None:
        self._sets.pop(tenant_id, None)
        if len(self._changes) > 50_000:
            self._changes.clear()
        self._changes[tenant_id] = self._changes.get(tenant_id, 0) + 1
