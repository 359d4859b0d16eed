"""The services' APIs as the console calls them: with the signed-in key, answers as JSON
(or CSV), errors as :class:`BackendError`. The only HTTP client of the console."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

Service = Literal["gateway", "replies", "scheduler", "analytics"]
TIMEOUT = aiohttp.ClientTimeout(total=10)


class BackendError(Exception):
    """A service answered with an error (``status`` ≥ 400) or not at all (``status`` 0)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class ServiceUrls:
    gateway: str
    replies: str
    scheduler: str
    analytics: str

    def of(self, service: Service) -> str:
        url: str = getattr(self, service)
        return url


class Backend:
    def __init__(self, urls: ServiceUrls) -> None:
        self.urls = urls
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self,
        key: str,
        method: str,
        service: Service,
        path: str,
        *,
        json: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        """The JSON answer of ``method path`` on ``service``; ``None`` for 204."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        url = self.urls.of(service) + path
        headers = {"Authorization": f"Bearer {key}"}
        try:
            async with self._session.request(
                method, url, json=json, params=query, headers=headers
            ) as response:
                if response.status == 204:
                    return None
                body = await response.json(content_type=None)
                if response.status >= 400:
                    raise _error(response.status, body)
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(0, "unreachable", f"{service}: {type(exc).__name__}") from None
        except ValueError:
            raise BackendError(502, "bad_answer", f"{service}: the answer is not JSON") from None


def _error(status: int, body: Any) -> BackendError:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return BackendError(status, "error", f"HTTP {status}")
    return BackendError(
        status,
        str(error.get("code", "error")),
        str(error.get("message", "")),
        field=error.get("field") if isinstance(error.get("field"), str) else None,
    )
