"""Compiled rule sets per tenant, per process. A change anywhere reaches every replica
through a ``rules.changed`` control notice; the expiry is only the backstop. A stored rule
that does not validate is skipped, logged and counted; the others still answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from prometheus_client import Counter

from services.replies.matching import RuleSet
from services.replies.ports import RuleStore, Timezones
from services.replies.stored_rules import load_rules

logger = logging.getLogger(__name__)


class RuleSetCache:
    def __init__(
        self,
        store: RuleStore,
        timezones: Timezones,
        *,
        clock: Callable[[], float],
        ttl: float = 30.0,
        skipped: Counter | None = None,
    ) -> None:
        self._store = store
        self._skipped = skipped
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
        loaded = load_rules(await self._store.all(tenant_id))
        timezone = await self._timezones.timezone(tenant_id)
        rule_set = RuleSet.compile(loaded.rules, tz=ZoneInfo(timezone))
        for skipped in loaded.skipped:
            logger.warning(
                "tenant %s: rule %s skipped (%s)", tenant_id, skipped.rule_id, skipped.error
            )
            if self._skipped is not None:
                self._skipped.inc()
        if self._changes.get(tenant_id, 0) == generation:  # else a change came in mid-read
            self._sets[tenant_id] = (now + self._ttl, rule_set)
        return rule_set

    def forget(self, tenant_id: str) -> None:
        self._sets.pop(tenant_id, None)
        if len(self._changes) > 50_000:
            self._changes.clear()
        self._changes[tenant_id] = self._changes.get(tenant_id, 0) + 1
