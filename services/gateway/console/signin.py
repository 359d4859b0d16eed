"""Signing in and out, and the language switch."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime

from aiohttp import web

from services.gateway.console.i18n import LANGUAGES
from services.gateway.console.session import LANG_COOKIE, SESSION_COOKIE, Session
from services.gateway.console.web import (
    AUTH,
    BOX,
    PREFIX,
    SECURE_COOKIES,
    form_of,
    render,
    set_session,
    viewer_of,
)
from shared.platform.web import ApiError

PRE_COOKIE = "wxp_signin"  # the sign-in form's own CSRF token (double submit)


async def home(request: web.Request) -> web.StreamResponse:
    principal = viewer_of(request).principal
    if principal.agency_wide:
        raise web.HTTPSeeOther(f"{PREFIX}/overview")
    raise web.HTTPSeeOther(f"{PREFIX}/tenants/{principal.tenant_id}/charts")


async def signin_form(request: web.Request) -> web.StreamResponse:
    token = secrets.token_urlsafe(24)
    notice = "signin.expired" if request.query.get("expired") else None
    response = render(request, "signin.html", {"form_token": token, "error_id": notice})
    _set_pre(request, response, token)
    return response


async def signin(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    expected = request.cookies.get(PRE_COOKIE, "")
    sent = form.get("csrf", "")
    if not (expected and sent and hmac.compare_digest(expected.encode(), sent.encode())):
        return await _refuse(request, "error.csrf", status=403)
    key = form.get("key", "").strip()
    try:
        if not key or not key.isascii() or len(key) > 200:
            raise ApiError(401, "unauthorized", "invalid API key")
        await request.app[AUTH].principal(key)
    except ApiError:
        return await _refuse(request, "signin.invalid", status=401)
    session = Session.start(key, now=datetime.now(UTC))
    response = web.HTTPSeeOther(f"{PREFIX}/")
    set_session(response, session.seal(request.app[BOX]), secure=request.app[SECURE_COOKIES])
    response.del_cookie(PRE_COOKIE, path=f"{PREFIX}/signin")
    raise response


async def signout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther(f"{PREFIX}/signin")
    response.del_cookie(SESSION_COOKIE, path=f"{PREFIX}/")
    raise response


async def language(request: web.Request) -> web.StreamResponse:
    """``/console/lang/en?next=/console/...``: a preference, not a change of data."""
    chosen = request.match_info["lang"]
    if chosen not in LANGUAGES:
        raise web.HTTPNotFound()
    back = request.query.get("next", f"{PREFIX}/")
    if not back.startswith(f"{PREFIX}/") or back.startswith("//"):
        back = f"{PREFIX}/"
    response = web.HTTPSeeOther(back)
    response.set_cookie(
        LANG_COOKIE, chosen, path=f"{PREFIX}/", samesite="Strict", max_age=365 * 86400
    )
    raise response


async def _refuse(request: web.Request, error_id: str, *, status: int) -> web.StreamResponse:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "signin.html", {"form_token": token, "error_id": error_id}, status=status
    )
    _set_pre(request, response, token)
    return response


def _set_pre(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        PRE_COOKIE,
        token,
        path=f"{PREFIX}/signin",
        httponly=True,
        samesite="Strict",
        secure=request.app[SECURE_COOKIES],
    )


ROUTES = [
    web.get("/", home),
    web.get("/signin", signin_form),
    web.post("/signin", signin),
    web.post("/signout", signout),
    web.get("/lang/{lang}", language),
]
