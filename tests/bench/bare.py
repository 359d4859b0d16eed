"""A bare aiohttp app shaped like the webhook: the framework's ceiling for the benchmark.

``python -m tests.bench.bare --port N`` serves ``POST /wx/{tenant_id}`` (reads the
body, answers ``success``) and ``GET /readyz``, until SIGTERM.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web


async def receive(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="success")


async def ready(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app() -> web.Application:
    app = web.Application()
    app.add_routes([web.post("/wx/{tenant_id}", receive), web.get("/readyz", ready)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    # The same event loop as the services (shared.runtime.serve), so the ratio is fair.
    web.run_app(
        create_app(),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
