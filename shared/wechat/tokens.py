"""One access token per appid, shared by every process through ``wxp_control``.

One process refreshes (the holder of the appid's lease, see :mod:`shared.wechat.token_store`)
while the others keep using the still-valid token or wait for the new one. Within a
process, a lock per appid lets one coroutine do the work while the others wait for its
result; when a token is good enough is :mod:`shared.wechat.token_policy`'s to say.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from shared.contracts.envelope import utc_now
from shared.platform.secretbox import SecretBox
from shared.wechat.errors import Transient, WeChatError
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.token_policy import (
    IssuedToken,
    Need,
    TokenPolicy,
    TokenRecord,
    new_record,
    next_generation,
    poll_delay,
)
from shared.wechat.token_store import Database, TokenStore

logger = logging.getLogger(__name__)

FetchToken = Callable[[str, str], Awaitable[IssuedToken]]
SecretFor = Callable[[str], Awaitable[str]]


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
        self._policy = policy or TokenPolicy()
        self._store = TokenStore(db, box, owner=uuid.uuid4().hex, policy=self._policy)
        self._fetch = fetch
        self._secret_for = secret_for
        self._metrics = metrics
        self._clock = clock
        self._rand = rand
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
            record = await self._store.load(appid)
            now = self._clock()
            if need.satisfied(record, now, self._policy):
                return record
            if await self._store.take_lease(appid, now):
                try:
                    return await self._refresh_if_needed(appid, need)
                finally:
                    await self._store.release_lease(appid)
            if need.tolerable(record, now, self._policy):
                return record  # still valid; the lease holder is renewing it
            if loop.time() > deadline:
                raise Transient(-1, "timed out waiting for another process's token refresh")
            await asyncio.sleep(poll_delay(self._policy, self._rand))

    async def _refresh_if_needed(self, appid: str, need: Need) -> TokenRecord:
        record = await self._store.load(appid)  # again, now that no one else may write it
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
        await self._store.save(appid, fresh)
        self._count("ok")
        logger.info(
            "wechat token refreshed appid=%s generation=%s expires_in=%s",
            appid,
            fresh.generation,
            issued.expires_in,
        )
        return fresh

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.token_refreshes.labels(outcome).inc()
