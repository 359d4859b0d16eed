"""The console's composition: a sub-application of the gateway at ``/console``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.gateway.console import (
    broadcasts,
    charts,
    inbox,
    onboarding,
    overview,
    rules,
    signin,
)
from services.gateway.console.backend import Backend, ServiceUrls
from services.gateway.console.i18n import Text, catalog
from services.gateway.console.web import (
    AUTH,
    BACKEND,
    BOX,
    CATALOG,
    PREFIX,
    SECURE_COOKIES,
    console_middleware,
)
from shared.platform.auth import Authenticator
from shared.platform.secretbox import SecretBox

HERE = Path(__file__).parent
PAGES: tuple[tuple[list[web.RouteDef], Text], ...] = (
    (signin.ROUTES, {}),
    (overview.ROUTES, overview.TEXT),
    (onboarding.ROUTES, onboarding.TEXT),
    (rules.ROUTES, rules.TEXT),
    (broadcasts.ROUTES, broadcasts.TEXT),
    (charts.ROUTES, charts.TEXT),
    (inbox.ROUTES, inbox.TEXT),
)


def console_app(
    *, authenticator: Authenticator, box: SecretBox, urls: ServiceUrls, secure_cookies: bool
) -> web.Application:
    app = web.Application(middlewares=[console_middleware])
    backend = Backend(urls)
    app[BACKEND] = backend
    app[BOX] = box
    app[AUTH] = authenticator
    app[CATALOG] = catalog(text for _, text in PAGES)
    app[SECURE_COOKIES] = secure_cookies
    app[aiohttp_jinja2.static_root_key] = f"{PREFIX}/static"
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    for routes, _ in PAGES:
        app.add_routes(routes)
    app.router.add_static("/static", HERE / "static", append_version=True)

    async def close(_: web.Application) -> AsyncIterator[None]:
        yield
        await backend.close()

    app.cleanup_ctx.append(close)
    return app


def mount(parent: web.Application, console: web.Application) -> None:
    async def to_console(_: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(f"{PREFIX}/")

    parent.router.add_get(PREFIX, to_console)
    parent.add_subapp(PREFIX, console)
