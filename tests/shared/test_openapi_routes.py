"""Every service's OpenAPI document names exactly the routes its app really has.

The apps are the real ones, built as each ``__main__`` builds them but never started:
the routes are read from the router, the document from the route that serves it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import OpenAPIV30SpecValidator, validate

from services.analytics.app import create_app as analytics_app
from services.analytics.settings import AnalyticsSettings
from services.gateway.app import create_app as gateway_app
from services.gateway.settings import GatewaySettings
from services.replies.app import create_app as replies_app
from services.replies.settings import RepliesSettings
from services.scheduler.app import create_app as scheduler_app
from services.scheduler.settings import SchedulerSettings
from shared.platform.settings import CommonSettings, ConsumerSettings
from tests.support.bus import stays_true, wait_until
from tests.support.infra import common_settings

OPENAPI_PATH = "/api/openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SERVICES = ["gateway", "replies", "scheduler", "analytics"]


def build_app(name: str, common: CommonSettings) -> web.Application:
    """Each service's ``create_app``, with the settings its ``__main__`` would read."""
    consumer = ConsumerSettings(common=common, queue_prefix="openapi-test")
    if name == "gateway":
        return gateway_app(GatewaySettings(common=common, queue_prefix="openapi-test"))
    if name == "replies":
        return replies_app(RepliesSettings(consumer=consumer))
    if name == "scheduler":
        return scheduler_app(SchedulerSettings(consumer=consumer))
    return analytics_app(AnalyticsSettings(consumer=consumer))


class Listener:
    """A TCP port that counts the connections made to it, standing in for both servers."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    listener = Listener()
    await listener.start()
    yield listener
    await listener.close()


@pytest.fixture
def built(listener: Listener) -> Callable[[str], web.Application]:
    """Builds a service's app with its broker and database pointed at ``listener``."""
    common = common_settings(
        amqp_url=f"amqp://guest:guest@127.0.0.1:{listener.port}/",
        mongodb_url=f"mongodb://127.0.0.1:{listener.port}/",
    )
    return lambda name: build_app(name, common)


def routed(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, template) of the app's API routes, as the document should list them."""
    routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    gets = {path for method, path in routes if method == "GET"}
    return {
        (method, path)
        for method, path in routes
        if path.startswith("/api/")
        and path != OPENAPI_PATH
        and not (method == "HEAD" and path in gets)  # the HEAD aiohttp adds to every GET
    }


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


async def served_document(app: web.Application) -> dict[str, Any]:
    """The document as the app's own route answers it."""
    (route,) = [
        route
        for route in app.router.routes()
        if route.method == "GET" and route.resource and route.resource.canonical == OPENAPI_PATH
    ]
    response = await route.handler(make_mocked_request("GET", OPENAPI_PATH, app=app))
    assert response.status == 200
    assert response.content_type == "application/json"
    document: dict[str, Any] = json.loads(response.body)
    return document


async def nothing(_: web.Request) -> web.Response:
    return web.Response()


def test_a_template_with_a_regex_is_listed_by_its_plain_name() -> None:
    app = web.Application()
    app.router.add_get("/api/tenants/{tenant_id:[a-z0-9][a-z0-9-]{1,40}}/x", nothing)
    app.router.add_route("HEAD", "/api/ping", nothing)
    assert routed(app) == {("GET", "/api/tenants/{tenant_id}/x"), ("HEAD", "/api/ping")}


@pytest.mark.parametrize("name", SERVICES)
async def test_the_document_lists_exactly_the_api_routes(
    name: str, built: Callable[[str], web.Application], listener: Listener
) -> None:
    app = built(name)
    doc = await served_document(app)

    assert documented(doc) == routed(app)
    validate(doc, cls=OpenAPIV30SpecValidator)
    assert doc["openapi"].startswith("3.0.")
    assert doc["info"]["title"].startswith("wxp ")
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    # Building connects to nothing: watched for a while (a background client would connect
    # within milliseconds), and the listener is shown to count a connection when one comes.
    await stays_true(lambda: listener.connections == 0, seconds=0.5)
    _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.close()
    await wait_until(lambda: listener.connections == 1, timeout=5)


async def test_the_gateway_document_covers_the_agency_api(
    built: Callable[[str], web.Application],
) -> None:
    """A guard on the comparison itself: the gateway's side is not trivially empty."""
    app = built("gateway")
    assert {
        ("POST", "/api/tenants"),
        ("GET", "/api/tenants/{tenant_id}"),
        ("DELETE", "/api/tenants/{tenant_id}/keys/{key_id}"),
        ("DELETE", "/api/keys/{key_id}"),
    } <= routed(app)
    assert documented(await served_document(app)) == routed(app)
