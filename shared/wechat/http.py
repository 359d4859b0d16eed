"""Sending to WeChat's HTTP API: timeouts, bounded retries with jittered backoff, typed
errors, metrics. Knows nothing of access tokens (``WeChatClient`` adds them).

Never logged: tokens, secrets, query strings, payloads. Logged: appid, path, errcode.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import random
import time
from collections.abc import Callable, Mapping

import aiohttp

from shared.platform.settings import DEFAULT_WECHAT_API_BASE
from shared.wechat.errors import (
    HTTP_ERROR,
    Classify,
    Transient,
    WeChatError,
    error_for,
    raise_for_errcode,
    token_error_for,
)
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.retry import RetryPolicy, delays, may_retry
from shared.wechat.token_policy import IssuedToken
from shared.wechat.transport import Json as Json  # re-exported: the client's calls answer it
from shared.wechat.transport import exchange

logger = logging.getLogger(__name__)

TOKEN_PATH = "/cgi-bin/token"  # noqa: S105 (a path, not a password)
DEFAULT_RETRY = RetryPolicy()


def issued_token(answer: Json) -> IssuedToken:
    """What a ``/cgi-bin/token`` answer grants."""
    try:
        return IssuedToken(str(answer["access_token"]), int(answer["expires_in"]))
    except (KeyError, TypeError, ValueError):
        raise WeChatError(HTTP_ERROR, "token answer lacks access_token or expires_in") from None


class WeChatHttp:
    """Requests over the process's one ``ClientSession`` (owned by the composition root)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str = DEFAULT_WECHAT_API_BASE,
        timeout_seconds: float = 5.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        metrics: WeChatMetrics | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._retry = retry
        self._metrics = metrics
        self._rand = rand

    async def fetch_token(self, appid: str, secret: str) -> IssuedToken:
        params = {"grant_type": "client_credential", "appid": appid, "secret": secret}
        answer = await self.request(
            "GET", TOKEN_PATH, appid=appid, params=params, classify=token_error_for
        )
        return issued_token(answer)

    async def request(
        self,
        method: str,
        path: str,
        *,
        appid: str,
        params: Mapping[str, str] | None = None,
        json: Json | None = None,
        idempotent: bool = True,
        classify: Classify = error_for,
    ) -> Json:
        """One API request, tried again (bounded) while it fails transiently and may be."""
        body = None if json is None else jsonlib.dumps(json, ensure_ascii=False).encode()
        waits = delays(self._retry.attempts, self._retry.base, self._retry.cap, self._rand)
        while True:
            try:
                return await self._once(method, path, params, body, classify)
            except Transient as exc:
                if not waits or not may_retry(exc, idempotent=idempotent):
                    raise
                wait = waits.pop(0)
                logger.warning(
                    "wechat %s transient for appid=%s (errcode=%s %s), again in %.2fs",
                    path,
                    appid,
                    exc.errcode,
                    exc.errmsg,
                    wait,
                )
                self.count_retry(path, "transient")
                await asyncio.sleep(wait)

    def count_retry(self, path: str, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.retries.labels(path, reason).inc()

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        classify: Classify,
    ) -> Json:
        started = time.perf_counter()
        outcome = "ok"
        try:
            answer = await exchange(
                self._session,
                method,
                self._base + path,
                params=params,
                body=body,
                client_timeout=self._timeout,
            )
            raise_for_errcode(answer, classify)
            return answer
        except WeChatError as exc:
            outcome = exc.outcome
            raise
        finally:
            if self._metrics is not None:
                self._metrics.calls.labels(path, outcome).inc()
                self._metrics.latency.labels(path).observe(time.perf_counter() - started)
