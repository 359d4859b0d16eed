"""The console's broadcasts pages (being built)."""

from __future__ import annotations

from aiohttp import web

from services.gateway.console.i18n import Text

ROUTES: list[web.RouteDef] = []
TEXT: Text = {}
