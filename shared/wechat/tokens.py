"""One access token per appid, shared by every process through ``wxp_control``.

``wechat_tokens`` holds the current token of each appid (sealed), ``wechat_token_leases``
who may refresh it. A lease is a unique-key insert (atomic on FerretDB and MongoDB alike),
so one process refreshes while the others keep using the still-valid token or wait for
the new one; the token document is written only by the lease holder. Within a process,
a lock per appid lets one coroutine do the work while the others wait for its result.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.secretbox import SecretBox
from shared.storage import DuplicateKeyError, PyMongoError
from shared.wechat.errors import Transient, WeChatError
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.token_policy import (
    IssuedToken,
    Need,
    TokenPolicy,
    TokenRecord,
    lease_is_stale,
    new_record,
    next_generation,
    poll_delay,
)

logger = logging.getLogger(__name__)

FetchToken = Callable[[str, str], Awaitable[IssuedToken]]
SecretFor = Callable[[str], Awaitable[str]]
Database = AsyncDatabase[dict[str, Any]]
TOKENS = "wechat_tokens"
LEASES = "wechat_token_leases"


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """Stored times are UTC; a client built without ``tz_aware`` reads them naive."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class TokenService:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        *,
        fetch: FetchToken,
        secret_for: SecretFor,
        policy: TokenPolicy | None = None,
        metrics: WeChatMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._tokens = db[TOKENS]
        self._leases = db[LEASES]
        self._box = box
        self._fetch = fetch
        self._secret_for = secret_for
        self._policy = policy or TokenPolicy()
        self._metrics = metrics
        self._clock = clock
        self._rand = rand
        self._owner = uuid.uuid4().hex
        self._cache: dict[str, TokenRecord] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, appid: str) -> str:
        """A token to call WeChat with; fetched only when none fresh is stored."""
        return await self._obtain(appid, Need())

    async def invalidate(self, appid: str, bad_token: str) -> str:
        """WeChat refused ``bad_token``: a token to try instead. Refreshes only if
        ``bad_token`` is still the current one, so many failures cause one refresh."""
        return await self._obtain(appid, Need(rejected=bad_token))

    async def _obtain(self, appid: str, need: Need) -> str:
        cached = self._cache.get(appid)
        if need.satisfied(cached, self._clock(), self._policy):
            return cached.token
        async with self._locks.setdefault(appid, asyncio.Lock()):
            record = await self._shared(appid, need)
        self._cache[appid] = record
        return record.token

    async def _shared(self, appid: str, need: Need) -> TokenRecord:
        cached = self._cache.get(appid)  # another coroutine may have just renewed it
        if need.satisfied(cached, self._clock(), self._policy):
            return cached
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.wait_seconds
        while True:
            record = await self._load(appid)
            now = self._clock()
            if need.satisfied(record, now, self._policy):
                return record
            if await self._take_lease(appid, now):
                try:
                    return await self._refresh_if_needed(appid, need)
                finally:
                    await self._release_lease(appid)
            if need.tolerable(record, now, self._policy):
                return record  # still valid; the lease holder is renewing it
            if loop.time() > deadline:
                raise Transient(-1, "timed out waiting for another process's token refresh")
            await asyncio.sleep(poll_delay(self._policy, self._rand))

    async def _refresh_if_needed(self, appid: str, need: Need) -> TokenRecord:
        record = await self._load(appid)  # again, now that no one else may write it
        if need.satisfied(record, self._clock(), self._policy):
            return record
        requested_at = self._clock()
        try:
            issued = await self._fetch(appid, await self._secret_for(appid))
        except WeChatError as exc:
            self._count(exc.outcome)
            logger.warning("wechat token refresh failed appid=%s errcode=%s", appid, exc.errcode)
            raise
        fresh = new_record(issued, requested_at=requested_at, generation=next_generation(record))
        await self._tokens.replace_one({"_id": appid}, self._document(appid, fresh), upsert=True)
        self._count("ok")
        logger.info(
            "wechat token refreshed appid=%s generation=%s expires_in=%s",
            appid,
            fresh.generation,
            issued.expires_in,
        )
        return fresh

    async def _take_lease(self, appid: str, now: datetime) -> bool:
        lease = {"_id": appid, "owner": self._owner, "at": now}
        try:
            await self._leases.insert_one(lease)
            return True
        except DuplicateKeyError:
            held = await self._leases.find_one({"_id": appid})
        if held is None or not lease_is_stale(aware(held["at"]), now, self._policy):
            return False
        logger.warning(
            "wechat token lease of appid=%s abandoned by %s: retaking", appid, held["owner"]
        )
        await self._leases.delete_one({"_id": appid, "owner": held["owner"], "at": held["at"]})
        try:
            await self._leases.insert_one(lease)
            return True
        except DuplicateKeyError:
            return False

    async def _release_lease(self, appid: str) -> None:
        try:
            await self._leases.delete_one({"_id": appid, "owner": self._owner})
        except PyMongoError as exc:  # it goes stale after lease_seconds; keep the token
            logger.warning("wechat token lease of appid=%s not released: %r", appid, exc)

    async def _load(self, appid: str) -> TokenRecord | None:
        doc = await self._tokens.find_one({"_id": appid})
        if doc is None:
            return None
        return TokenRecord(
            token=self._box.open(doc["token"], f"token:{appid}"),
            fetched_at=aware(doc["fetched_at"]),
            expires_at=aware(doc["expires_at"]),
            generation=int(doc["generation"]),
        )

    def _document(self, appid: str, record: TokenRecord) -> dict[str, Any]:
        return {
            "_id": appid,
            "token": self._box.seal(record.token, f"token:{appid}"),
            "fetched_at": record.fetched_at,
            "expires_at": record.expires_at,
            "generation": record.generation,
            "fetched_by": self._owner,
        }

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.token_refreshes.labels(outcome).inc()
