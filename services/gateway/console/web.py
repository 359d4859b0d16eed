"""What every console page shares: who is signed in, the CSRF check, security headers,
rendering in the reader's language, and errors as pages rather than tracebacks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from services.gateway.console.backend import Backend, BackendError, Service
from services.gateway.console.i18n import Catalog, language_of
from services.gateway.console.session import LANG_COOKIE, SESSION_COOKIE, Session
from shared.platform.auth import Authenticator
from shared.platform.keys import Principal
from shared.platform.secretbox import SecretBox
from shared.platform.web import ApiError

logger = logging.getLogger(__name__)

PREFIX = "/console"
PUBLIC = ("/console/signin", "/console/static/", "/console/lang/")
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

BACKEND = web.AppKey("backend", Backend)
BOX = web.AppKey("box", SecretBox)
AUTH = web.AppKey("authenticator", Authenticator)
CATALOG = web.AppKey("catalog", Catalog)
SECURE_COOKIES = web.AppKey("secure_cookies", bool)
LANGUAGE = web.RequestKey("language", str)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person: their key's principal and session."""

    principal: Principal
    session: Session

    def sees(self, tenant_id: str) -> bool:
        return self.principal.sees_tenant(tenant_id)


VIEWER = web.RequestKey("viewer", Viewer)


def viewer_of(request: web.Request) -> Viewer:
    return request[VIEWER]


def tenant_of(request: web.Request) -> str:
    """The path's tenant, when the viewer may see it; else the 404 page."""
    tenant_id = request.match_info["tenant_id"]
    if not viewer_of(request).sees(tenant_id):
        raise web.HTTPNotFound()
    return tenant_id


def agency_only(request: web.Request) -> None:
    """Agency-wide pages: a tenant key gets the 404 page, as the agency API answers it."""
    if not viewer_of(request).principal.agency_wide:
        raise web.HTTPNotFound()


async def call(
    request: web.Request,
    method: str,
    service: Service,
    path: str,
    *,
    json: Any = None,
    query: Mapping[str, str] | None = None,
) -> Any:
    """One API call with the viewer's own key: the services decide what it may see."""
    key = viewer_of(request).session.key
    return await request.app[BACKEND].call(key, method, service, path, json=json, query=query)


async def form_of(request: web.Request) -> Mapping[str, str]:
    """A submitted form's fields (the CSRF token was checked by the middleware)."""
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    language = request.get(LANGUAGE) or language_of(request.cookies.get(LANG_COOKIE))
    viewer = request.get(VIEWER)
    tenant_id = request.match_info.get("tenant_id")
    full = {
        "t": request.app[CATALOG].translator(language),
        "lang": language,
        "viewer": viewer,
        "csrf": viewer.session.csrf if viewer else "",
        "tenant_id": tenant_id,
        "path": request.path_qs,
        "htmx": request.headers.get("HX-Request") == "true",
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def redirect(location: str, request: web.Request) -> web.Response:
    """A redirect that htmx follows as a full page load too."""
    if request.headers.get("HX-Request") == "true":
        return web.Response(status=204, headers={"HX-Redirect": location})
    raise web.HTTPSeeOther(location)


def set_session(response: web.StreamResponse, value: str, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        path=PREFIX + "/",
        httponly=True,
        samesite="Strict",
        secure=secure,
        max_age=12 * 3600,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def console_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; a session for every page but sign-in and assets;
    the CSRF token on every change; errors shown as a page of the console."""
    request[LANGUAGE] = language_of(request.cookies.get(LANG_COOKIE))
    try:
        if not request.path.startswith(PUBLIC):
            await _sign_in_check(request)
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            _secure(exc.headers)
            raise
        refused = "error.csrf" if isinstance(exc, CsrfRefused) else "error.not_found"
        response = _error_page(request, exc.status, refused, detail=None)
    except BackendError as exc:
        response = _backend_error(request, exc)
    except ApiError as exc:  # a key the authenticator refused or rate-limited
        response = _error_page(request, exc.status, "error.title", detail=exc.message)
    return _secured(response)


async def _sign_in_check(request: web.Request) -> None:
    now = datetime.now(UTC)
    session = Session.open(request.app[BOX], request.cookies.get(SESSION_COOKIE), now=now)
    if session is None:
        raise web.HTTPSeeOther(f"{PREFIX}/signin")
    try:
        principal = await request.app[AUTH].principal(session.key)
    except ApiError as exc:
        if exc.status == 401:  # revoked since sign-in
            raise web.HTTPSeeOther(f"{PREFIX}/signin?expired=1") from None
        raise
    if request.method in CHANGES:
        token = request.headers.get("X-CSRF-Token")
        if token is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            token = str((await request.post()).get("csrf", ""))
        if not session.allows(token):
            raise CsrfRefused()
    request[VIEWER] = Viewer(principal=principal, session=session)


class CsrfRefused(web.HTTPForbidden):
    """A change without this session's CSRF token."""


def _backend_error(request: web.Request, exc: BackendError) -> web.StreamResponse:
    if exc.status == 404:
        return _error_page(request, 404, "error.not_found", detail=None)
    if exc.status == 0 or exc.status >= 500:
        logger.warning("console: %s %s: %s", request.method, request.path, exc)
        return _error_page(request, 503, "error.backend", detail=exc.message)
    return _error_page(request, exc.status, "error.title", detail=exc.message)


def _error_page(
    request: web.Request, status: int, message_id: str, *, detail: str | None
) -> web.Response:
    context = {"message_id": message_id, "detail": detail}
    return render(request, "error.html", context, status=status)


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    _secure(response.headers)
    return response


def _secure(headers: MutableMapping[str, str]) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
