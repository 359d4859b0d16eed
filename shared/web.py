"""The HTTP edge every service shares: JSON errors, RED metrics, health routes, auth.

Errors under ``/api/`` answer ``{"error": {"code", "message"}}``; handlers raise
:class:`ApiError` (or an aiohttp HTTP exception) and never build error bodies.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.metrics import HttpMetrics

logger = logging.getLogger(__name__)

Readiness = Callable[[], Awaitable[Mapping[str, bool]]]
HTTP_METRICS = web.AppKey("http_metrics", HttpMetrics)


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
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    error: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return web.json_response({"error": error}, status=status, headers=headers)


def _route_of(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


@web.middleware
async def edge_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Counts every request and turns errors under /api/ into the JSON error shape."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except ApiError as exc:
        status = exc.status
        return error_response(
            exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers
        )
    except web.HTTPException as exc:
        status = exc.status
        if request.path.startswith("/api/") and exc.status >= 400:
            return error_response(exc.status, _code_of(exc.status), exc.reason)
        raise
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, _route_of(request))
        if request.path.startswith("/api/"):
            return error_response(500, "internal", "internal error")
        raise
    finally:
        metrics = request.app[HTTP_METRICS]
        route = _route_of(request)
        metrics.requests.labels(route, request.method, str(status)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - started)


def _code_of(status: int) -> str:
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


def add_health_routes(
    app: web.Application, registry: CollectorRegistry, readiness: Readiness
) -> None:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks = dict(await readiness())
        ready = all(checks.values())
        return web.json_response(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status=200 if ready else 503,
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


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
