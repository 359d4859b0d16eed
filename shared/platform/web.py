"""What API handlers raise and read: the JSON error shape, and the request's key and body.

Errors under ``/api/`` answer ``{"error": {"code", "message"}}``; handlers raise
:class:`ApiError` (or an aiohttp HTTP exception) and never build error bodies:
:mod:`shared.platform.edge`'s middleware does.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """An API refusal; ``field`` names the offending input field where there is one."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.details = details or {}  # more named facts for the caller (next_allowed_at)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    details: dict[str, str] | None = None,
) -> web.Response:
    error: dict[str, str] = {**(details or {}), "code": code, "message": message}
    if field is not None:
        error["field"] = field
    return web.json_response({"error": error}, status=status, headers=headers)


def error_code(status: int) -> str:
    """The error ``code`` for an HTTP status raised without one (an aiohttp exception)."""
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        415: "unsupported_media_type",
        422: "invalid",
        429: "rate_limited",
    }.get(status, "error")


def bearer_key(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <api key>")
    return key.strip()


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a clear 400/413/415."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send Content-Type: application/json")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "too_large", "request body too large") from None
    try:
        data = json.loads(raw)
        json.dumps(data, ensure_ascii=False).encode()  # what storage will do: refuse it here
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "bad_json", f"body is not valid JSON: {exc}") from None
    except UnicodeEncodeError:
        raise ApiError(400, "bad_json", "body has a lone surrogate") from None
    except RecursionError:
        raise ApiError(400, "bad_json", "body nests too deep") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "body must be a JSON object")
    return data
