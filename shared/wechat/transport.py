"""One HTTP exchange with WeChat's API: the JSON object it answered, or a typed error.

Failures of the exchange itself (timeouts, broken connections, 5xx, an answer that is
not a JSON object) become :class:`Transient`, with ``maybe_delivered`` when the request
may have reached WeChat. Error codes inside a JSON answer are not looked at here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from shared.wechat.errors import HTTP_ERROR, Transient, WeChatError

Json = dict[str, Any]


def answer_of(status: int, text: str) -> Json:
    """The JSON object of an answer with HTTP ``status``, or the error it stands for."""
    if status >= 500:
        raise Transient(HTTP_ERROR, f"http {status}", maybe_delivered=True)
    if status != 200:
        raise WeChatError(HTTP_ERROR, f"http {status}")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise Transient(HTTP_ERROR, "answer is not a JSON object", maybe_delivered=True)
    return answer


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None,
    body: bytes | None,
    client_timeout: aiohttp.ClientTimeout,
) -> Json:
    headers = {"Content-Type": "application/json; charset=utf-8"} if body else None
    try:
        async with session.request(
            method, url, params=params, data=body, headers=headers, timeout=client_timeout
        ) as response:
            status = response.status
            text = await response.text() if status == 200 else ""
    except TimeoutError:
        raise Transient(HTTP_ERROR, "timeout", maybe_delivered=True) from None
    except aiohttp.ClientConnectorError:
        raise Transient(HTTP_ERROR, "cannot connect") from None
    except aiohttp.ClientError as exc:
        # from None: aiohttp's messages may quote the URL, and the URL the token
        raise Transient(HTTP_ERROR, type(exc).__name__, maybe_delivered=True) from None
    return answer_of(status, text)
