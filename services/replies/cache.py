"""Compiled rule sets per tenant, per process. A change anywhere reaches every replica
through a ``rules.changed`` control notice; the expiry is only the backstop."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from services.replies.matching import RuleSet
from services.replies.repository import RuleRepository
from services.replies.validation import validate_rule
from shared.directory import TenantDirectory


class RuleSetCache:
    def __init__(
        self, repository: RuleRepository, directory: TenantDirectory, *, ttl: float = 30.0
    ) -> None:
        self._repository = repository
        self._directory = directory
        self._ttl = ttl
        self._sets: dict[str, tuple[float, RuleSet]] = {}

    async def get(self, tenant_id: str) -> RuleSet:
        now = time.monotonic()
        hit = self._sets.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        stored = await self._repository.all(tenant_id)
        timezone = await self._directory.timezone(tenant_id)
        rule_set = RuleSet.compile([validate_rule(rule) for rule in stored], tz=ZoneInfo(timezone))
        self._sets[tenant_id] = (now + self._ttl, rule_set)
        return rule_set

    def forget(self, tenant_id: str) -> None:
        self._sets.pop(tenant_id, None)
