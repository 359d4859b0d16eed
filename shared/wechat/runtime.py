"""The WeChat client as a process owns it: one aiohttp session, opened and closed with
the app (``cleanup_ctx``), and the shared token service behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from shared.platform.secretbox import SecretBox
from shared.platform.storage import CONTROL_DB, Client
from shared.wechat.client import WeChatClient
from shared.wechat.errors import Transient
from shared.wechat.http import Json, WeChatHttp
from shared.wechat.metrics import WeChatMetrics
from shared.wechat.tokens import SecretFor, TokenService


class WeChatRuntime:
    def __init__(
        self,
        *,
        mongo: Client,
        box: SecretBox,
        base_url: str,
        secret_for: SecretFor,
        metrics: WeChatMetrics,
    ) -> None:
        self._mongo = mongo
        self._box = box
        self._base_url = base_url
        self._secret_for = secret_for
        self._metrics = metrics
        self._client: WeChatClient | None = None

    async def context(self, _: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            http = WeChatHttp(session, base_url=self._base_url, metrics=self._metrics)
            tokens = TokenService(
                self._mongo[CONTROL_DB],
                self._box,
                fetch=http.fetch_token,
                secret_for=self._secret_for,
                metrics=self._metrics,
            )
            self._client = WeChatClient(http, tokens)
            yield
            self._client = None

    @property
    def client(self) -> WeChatClient:
        if self._client is None:
            raise Transient(-1, "the WeChat client is not running")
        return self._client

    async def send_custom_message(self, appid: str, payload: Json) -> Any:
        return await self.client.send_custom_message(appid, payload)
