"""What every service's app mounts at its HTTP edge: the middleware that counts each
request (RED metrics) and turns errors under ``/api/`` into the JSON error shape, and
the ``/healthz``, ``/readyz`` and ``/metrics`` routes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.platform.metrics import HttpMetrics
from shared.platform.web import ApiError, error_code, error_response

logger = logging.getLogger(__name__)

Readiness = Callable[[], Awaitable[Mapping[str, bool]]]


@dataclass(frozen=True, slots=True)
class ReadyWhen:
    """Which of a service's checks it needs to take traffic: every one of ``all_of`` and,
    when given, at least one of ``any_of``. Pure."""

    all_of: tuple[str, ...]
    any_of: tuple[str, ...] = ()

    def ready(self, checks: Mapping[str, bool]) -> bool:
        needed = all(checks.get(name, False) for name in self.all_of)
        return needed and (not self.any_of or any(checks.get(n, False) for n in self.any_of))


# The gateway takes a webhook while it can keep the event somewhere: published to the
# broker, or kept in MongoDB's outbox for its relay (and dedup degrades to the broker's
# side when MongoDB is away). Taking it out of the Service when one of the two is down
# would turn an outage the outbox covers into errors for WeChat.
GATEWAY_READY = ReadyWhen(all_of=("background",), any_of=("broker", "database"))
# A consumer does its work off the broker: without it there is nothing to take. Its API
# reports a database outage in its own answers (503 per request), so that alone does not
# take the pod out of the Service.
CONSUMER_READY = ReadyWhen(all_of=("broker", "background"))
HTTP_METRICS = web.AppKey("http_metrics", HttpMetrics)


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
            exc.status,
            exc.code,
            exc.message,
            field=exc.field,
            headers=exc.headers,
            details=exc.details,
        )
    except web.HTTPException as exc:
        status = exc.status
        if request.path.startswith("/api/") and exc.status >= 400:
            return error_response(exc.status, error_code(exc.status), exc.reason)
        raise
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, _route_of(request))
        if request.path.startswith("/api/"):
            return error_response(500, "internal", "internal error")
        raise
    finally:
        metrics = request.app[HTTP_METRICS]
        route = _route_of(request)
        metrics.child(metrics.requests, route, request.method, str(status)).inc()
        metrics.child(metrics.latency, route).observe(time.perf_counter() - started)


def add_health_routes(
    app: web.Application,
    registry: CollectorRegistry,
    readiness: Readiness,
    ready_when: ReadyWhen = CONSUMER_READY,
) -> None:
    """``/healthz``: the process answers (liveness: no dependency is checked, so an
    outage never restarts pods). ``/readyz``: 200 or 503 by ``ready_when``, with every
    check and the names of those down."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks = dict(await readiness())
        ready = ready_when.ready(checks)
        down = sorted(name for name, ok in checks.items() if not ok)
        return web.json_response(
            {"status": "ready" if ready else "unavailable", "checks": checks, "down": down},
            status=200 if ready else 503,
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
