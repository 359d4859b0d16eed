"""Talking to the services' APIs for the CLI: requests, and their answers or errors."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class CliError(Exception):
    pass


class Unreachable(CliError):
    """No (whole) answer from ``url``: refused, unknown host, timed out, cut off."""

    def __init__(self, url: str, reason: object) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.reason = reason


def api_path(*segments: str) -> str:
    """``/a/b/c`` with each segment quoted, so an id is one segment whatever it holds."""
    for segment in segments:
        if segment in ("", ".", ".."):
            raise CliError(f"{segment!r} is not an id")
    return "/" + "/".join(urllib.parse.quote(s, safe="") for s in segments)


def tenant_path(tenant: str, *parts: str) -> str:
    """``/api/tenants/{tenant}/...``, each part one quoted segment."""
    return api_path("api", "tenants", tenant, *parts)


def request(
    method: str,
    url: str,
    *,
    key: str | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type}
    if key:
        if not (key.isascii() and key.isprintable()):
            raise CliError("the API key (WXP_API_KEY or WXP_ADMIN_KEY) is not printable ASCII")
        headers["Authorization"] = f"Bearer {key}"
    try:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except urllib.error.URLError as exc:
        raise Unreachable(url, exc.reason) from None
    except (OSError, http.client.HTTPException) as exc:  # timed out or cut off mid-answer
        raise Unreachable(url, exc) from None
    except ValueError as exc:  # not a URL urllib can call ("Invalid IPv6 URL")
        raise CliError(f"cannot call {url}: {exc}") from None


def decoded(status: int, raw: bytes) -> Any:
    """The JSON of an API answer, or a :class:`CliError` with the server's error message."""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        if status < 400:
            raise CliError(f"{status}: the answer is not JSON: {raw[:200]!r}") from None
        data = None
    if status >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        raise CliError(f"{status} {error.get('code', 'error')}: {error.get('message', raw[:200])}")
    return data


class Api:
    """The JSON API of ``service`` at ``base_url``, called with ``key`` (when there is one)."""

    def __init__(self, base_url: str, key: str | None, service: str = "gateway") -> None:
        self.base_url = base_url
        self.service = service
        self._key = key

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        body = json.dumps(payload).encode() if payload is not None else None
        return decoded(*self._send(method, path, body))

    def text(self, path: str) -> str:
        """A GET answered as text (CSV, say); an error status raises the server's message."""
        status, raw = self._send("GET", path, None)
        if status >= 400:
            decoded(status, raw)
        return raw.decode("utf-8", errors="replace")

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        try:
            return request(method, self.base_url + path, key=self._key, body=body)
        except Unreachable as exc:
            raise CliError(
                f"cannot reach the {self.service} at {self.base_url} ({exc.reason})"
            ) from None
