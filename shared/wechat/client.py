"""The WeChat HTTP API client for services: ``WeChatClient`` adds the account's shared
access token to each call through ``WeChatHttp``, refreshing it once when WeChat refuses it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from shared.wechat.errors import InvalidToken
from shared.wechat.http import Json, WeChatHttp

logger = logging.getLogger(__name__)


class TokenProvider(Protocol):
    async def get(self, appid: str) -> str: ...
    async def invalidate(self, appid: str, bad_token: str) -> str: ...


class WeChatClient:
    """The API as services use it: every call carries the account's shared token."""

    def __init__(self, http: WeChatHttp, tokens: TokenProvider) -> None:
        self._http = http
        self._tokens = tokens

    async def call(
        self,
        appid: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Json | None = None,
        idempotent: bool | None = None,
    ) -> Json:
        """``idempotent`` (default: GET only) allows retrying after a possible delivery."""
        safe = method.upper() == "GET" if idempotent is None else idempotent
        token = await self._tokens.get(appid)
        try:
            return await self._http.request(
                method,
                path,
                appid=appid,
                params={**(params or {}), "access_token": token},
                json=json,
                idempotent=safe,
            )
        except InvalidToken as exc:
            logger.info(
                "wechat %s refused the token of appid=%s (errcode=%s): refreshing once",
                path,
                appid,
                exc.errcode,
            )
            self._http.count_retry(path, "token")
            token = await self._tokens.invalidate(appid, token)
        return await self._http.request(
            method,
            path,
            appid=appid,
            params={**(params or {}), "access_token": token},
            json=json,
            idempotent=safe,
        )

    async def send_custom_message(self, appid: str, payload: Json) -> Json:
        return await self.call(appid, "POST", "/cgi-bin/message/custom/send", json=payload)

    async def mass_send_by_tag(self, appid: str, payload: Json) -> Json:
        """With a ``clientmsgid`` WeChat refuses duplicates, so it is safe to retry."""
        return await self.call(
            appid,
            "POST",
            "/cgi-bin/message/mass/sendall",
            json=payload,
            idempotent="clientmsgid" in payload,
        )

    async def mass_send_to_openids(self, appid: str, payload: Json) -> Json:
        return await self.call(
            appid,
            "POST",
            "/cgi-bin/message/mass/send",
            json=payload,
            idempotent="clientmsgid" in payload,
        )

    async def mass_preview(self, appid: str, payload: Json) -> Json:
        return await self.call(appid, "POST", "/cgi-bin/message/mass/preview", json=payload)

    async def user_info(self, appid: str, openid: str, lang: str = "zh_CN") -> Json:
        params = {"openid": openid, "lang": lang}
        return await self.call(appid, "GET", "/cgi-bin/user/info", params=params)

    async def get_tags(self, appid: str) -> Json:
        return await self.call(appid, "GET", "/cgi-bin/tags/get")

    async def create_tag(self, appid: str, name: str) -> Json:
        return await self.call(appid, "POST", "/cgi-bin/tags/create", json={"tag": {"name": name}})
