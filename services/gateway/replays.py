"""``wxp_control.gateway_signatures_<n>``: the (timestamp, nonce) of each plaintext webhook,
with a digest of its body, for as long as that timestamp is accepted; shared by every
replica, in the 5-minute slice of the timestamp (``shared/platform/slices.py``), which a
retry repeats; the purge drops the slices of timestamps no longer accepted.

In plain and compatible mode WeChat's ``signature`` covers the token, the timestamp and
the nonce, not the body: whoever saw one request could post another body under its
signature while the timestamp is fresh (a forged subscribe, say). So the first body
under a signature is remembered, under a unique ``_id`` (atomic on FerretDB and
MongoDB): the same body again is WeChat's retry, which dedup answers; another body is
refused. This holds for every request to a plain or compatible account, encrypted or
not: compatible mode's encrypted requests carry the plain signature too. Safe-mode
accounts need none of it: they refuse plaintext, and ``msg_signature`` covers the
ciphertext.

When the database does not answer in time (``Bounded``, 1 s), the message is taken
unchecked and counted: refusing it would lose readers' messages during an outage, while
a replay needs a captured signature within the same few minutes. While the
:class:`Breaker` is tripped (by this or another step), the check is skipped at once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum

from services.gateway.bounded import Bounded, DatabaseSlow
from services.gateway.breaker import Breaker
from services.gateway.verify import Rejected
from shared.platform.slices import SlicedInserts, TimeSlices
from shared.platform.storage import CONTROL_DB, Client, PyMongoError

logger = logging.getLogger(__name__)


class Check(Enum):
    FIRST = "first"  # the first body under this signature
    RETRY = "retry"  # the same body again
    UNCHECKED = "unchecked"  # the database could not say in time


# by the request's timestamp
SIGNATURES = TimeSlices("gateway_signatures_", 300.0, legacy="gateway_signatures")


class ReplayGuard:
    def __init__(
        self,
        client: Client,
        *,
        tolerance: float,
        breaker: Breaker | None = None,
        bounded: Bounded | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = client[CONTROL_DB]
        self._inserts = SlicedInserts(self._db, SIGNATURES)
        self._clock = clock
        self._tolerance = tolerance
        self._breaker = breaker or Breaker()
        self._bounded = bounded or Bounded()

    async def check(self, tenant_id: str, timestamp: str, nonce: str, body: bytes) -> Check:
        """Remembers the body signed with (``timestamp``, ``nonce``); raises Rejected when
        another body came with them before. ``timestamp`` is one verify_post accepted."""
        if self._breaker.tripped():
            return Check.UNCHECKED
        key = f"{tenant_id}:{timestamp}:{nonce}"
        digest = hashlib.sha256(body).hexdigest()
        try:
            first = await self._bounded(self._remember(key, tenant_id, int(timestamp), digest))
        except (DatabaseSlow, PyMongoError) as exc:
            self._breaker.trip()
            logger.warning("signature of %s unchecked: %s", tenant_id, exc)
            return Check.UNCHECKED
        if first is None or first == digest:
            return Check.FIRST if first is None else Check.RETRY
        raise Rejected(403, "replayed_signature", "this signature came with another body")

    async def _remember(self, key: str, tenant_id: str, timestamp: int, digest: str) -> str | None:
        """None when this is the first body under ``key``; else the digest of the first."""
        until = datetime.fromtimestamp(timestamp, UTC) + timedelta(seconds=self._tolerance)
        doc = {"_id": key, "tenant_id": tenant_id, "digest": digest, "until": until}
        if await self._inserts.insert(timestamp, doc):  # concurrent webhooks share a round trip
            return None
        seen = await self._db[SIGNATURES.name(timestamp)].find_one({"_id": key}, {"digest": 1})
        return digest if seen is None else str(seen["digest"])  # purged since: a retry

    async def purge(self) -> int:
        """Drops the slices of timestamps no longer accepted anyway, and the one collection
        of the signatures before slices; answers how many slices went."""
        return await SIGNATURES.drop_expired(self._db, self._clock(), self._tolerance)

    async def forget_tenant(self, tenant_id: str) -> None:
        await SIGNATURES.delete_everywhere(self._db, {"tenant_id": tenant_id})
