"""A page's change sent to a service: its answer, or the refusal the page shows beside
the form (any other error goes on to the middleware's error page)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.gateway.console.backend import BackendError, Service
from services.gateway.console.web import call


async def submit(
    request: web.Request,
    method: str,
    service: Service,
    path: str,
    *,
    json: Any = None,
    refused: tuple[int, ...] = (422,),
) -> tuple[Any, BackendError | None]:
    """``(answer, None)``, or ``(None, the refusal)`` when its status is in ``refused``."""
    try:
        return await call(request, method, service, path, json=json), None
    except BackendError as exc:
        if exc.status not in refused:
            raise
        return None, exc
