"""An in-memory ``replies_sent`` (the replies service's ``SentLog`` port): claims by
(tenant, claim id), with failures on request the way the database fails (an
``AutoReconnect``), so the fallback's decisions can be tested without a database."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from services.replies.claims import CALLING, SENDING, USED, Claim, attempt_ids
from tests.support.fakes import database_down


@dataclass
class FakeSentLog:
    claims: dict[tuple[str, str], Claim] = field(default_factory=dict)
    failing: dict[str, int] = field(default_factory=dict)  # operation: how many calls fail
    down: bool = False  # every operation fails

    def _reach(self, operation: str) -> None:
        if self.down:
            raise database_down()
        if self.failing.get(operation, 0) > 0:
            self.failing[operation] -= 1
            raise database_down()

    def status(self, tenant_id: str, claim_id: str) -> str | None:
        claim = self.claims.get((tenant_id, claim_id))
        return None if claim is None else claim.status

    def put(self, tenant_id: str, claim: Claim) -> None:
        self.claims[tenant_id, claim.id] = claim

    def of_event(self, tenant_id: str, event_id: str) -> list[Claim]:
        return [
            self.claims[tenant_id, i]
            for i in attempt_ids(event_id)
            if (tenant_id, i) in self.claims
        ]

    async def insert(self, tenant_id: str, claim: Claim) -> bool:
        self._reach("insert")
        if (tenant_id, claim.id) in self.claims:
            return False
        self.claims[tenant_id, claim.id] = claim
        return True

    async def attempts(self, tenant_id: str, event_id: str) -> list[Claim]:
        self._reach("attempts")
        return self.of_event(tenant_id, event_id)

    async def claims_of(self, tenant_id: str, openid: str, since: datetime) -> list[Claim]:
        self._reach("claims_of")
        return [
            claim
            for (tenant, _), claim in self.claims.items()
            if tenant == tenant_id
            and claim.openid == openid
            and claim.at >= since
            and (claim.status == SENDING or claim.status in USED)
        ]

    async def mark_calling(self, tenant_id: str, claim: Claim) -> None:
        self._reach("mark_calling")
        stored = self.claims.get((tenant_id, claim.id))
        if stored is not None:
            self.claims[tenant_id, claim.id] = replace(stored, stage=CALLING)

    async def finish(self, tenant_id: str, claim: Claim, status: str) -> None:
        self._reach("finish")
        stored = self.claims.get((tenant_id, claim.id))
        if stored is not None:
            self.claims[tenant_id, claim.id] = replace(stored, status=status)

    async def release(self, tenant_id: str, claim: Claim) -> None:
        self._reach("release")
        self.claims.pop((tenant_id, claim.id), None)
