"""``wxp_control.tenant_revisions``: who may move a tenant document on from a version.

A change of a tenant writes only its fields, with ``version + 1``, on the condition that
the document is still at the version it read. On MongoDB that condition is atomic. On
FerretDB an update finds and then writes, so two changes made from one read can both
pass it and the later one silently undoes the other. So a change first claims its move
with a unique insert of ``{tenant}@{version}`` (atomic on both), and releases the claim
once written: of two changes from one read, one gets the claim, the other retries.

A claim whose holder died before releasing it (older than ``stale_after``) blocks no one
for long: the next change claims the next generation, ``{tenant}@{version}.1``, and so on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.platform.storage import CONTROL_DB, Client, DuplicateKeyError, delete_all

GENERATIONS = 5  # stale claims on one version before a change gives up (needs 5 crashes)


class Revisions:
    def __init__(self, client: Client, *, stale_after: timedelta = timedelta(seconds=60)) -> None:
        self._claims = client[CONTROL_DB].tenant_revisions
        self._stale_after = stale_after

    async def claim(self, tenant_id: str, version: int, *, now: datetime) -> str | None:
        """The claim's id; None while another change from ``version`` is under way."""
        for generation in range(GENERATIONS):
            claim_id = f"{tenant_id}@{version}" + (f".{generation}" if generation else "")
            try:
                await self._claims.insert_one({"_id": claim_id, "tenant_id": tenant_id, "at": now})
            except DuplicateKeyError:
                held = await self._claims.find_one({"_id": claim_id})
                if held is None or held["at"] > now - self._stale_after:
                    return None
                continue
            return claim_id
        return None

    async def release(self, claim_id: str) -> None:
        await self._claims.delete_one({"_id": claim_id})

    async def forget_tenant(self, tenant_id: str) -> None:
        await delete_all(self._claims, {"tenant_id": tenant_id})
