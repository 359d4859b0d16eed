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
from typing import Any

import aiohttp

from shared.settings import DEFAULT_WECHAT_API_BASE
from shared.wechat.errors import (
    Transient,
    WeChatError,
    error_for,
    token_error_for,
)
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.retry import RetryPolicy, delays, may_retry
from shared.wechat.token_policy import IssuedToken

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Classify = Callable[[int, str], WeChatError]
HTTP_ERROR = -2  # not a WeChat code: the HTTP exchange itself failed
TOKEN_PATH = "/cgi-bin/token"  # noqa: S105 (a path, not a password)
DEFAULT_RETRY = RetryPolicy()


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
        try:
            return IssuedToken(str(answer["access_token"]), int(answer["expires_in"]))
        except (KeyError, TypeError, ValueError):
            raise WeChatError(HTTP_ERROR, "token answer lacks access_token or expires_in") from None

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
            answer = await self._send(method, path, params, body)
            errcode = int(answer.get("errcode") or 0)
            if errcode != 0:
                raise classify(errcode, str(answer.get("errmsg", "")))
            return answer
        except WeChatError as exc:
            outcome = exc.outcome
            raise
        finally:
            if self._metrics is not None:
                self._metrics.calls.labels(path, outcome).inc()
                self._metrics.latency.labels(path).observe(time.perf_counter() - started)

    async def _send(
        self, method: str, path: str, params: Mapping[str, str] | None, body: bytes | None
    ) -> Json:
        headers = {"Content-Type": "application/json; charset=utf-8"} if body else None
        try:
            async with self._session.request(
                method,
                self._base + path,
                params=params,
                data=body,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                if response.status >= 500:
                    raise Transient(HTTP_ERROR, f"http {response.status}", maybe_delivered=True)
                if response.status != 200:
                    raise WeChatError(HTTP_ERROR, f"http {response.status}")
                text = await response.text()
        except TimeoutError:
            raise Transient(HTTP_ERROR, "timeout", maybe_delivered=True) from None
        except aiohttp.ClientConnectorError:
            raise Transient(HTTP_ERROR, "cannot connect") from None
        except aiohttp.ClientError as exc:
            # from None: aiohttp's messages may quote the URL, and the URL the token
            raise Transient(HTTP_ERROR, type(exc).__name__, maybe_delivered=True) from None
        try:
            answer = jsonlib.loads(text)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise Transient(HTTP_ERROR, "answer is not a JSON object", maybe_delivered=True)
        return answer
