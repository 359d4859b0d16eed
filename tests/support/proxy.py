"""A TCP proxy between the services and the servers, for fault injection. TEST-ONLY.

Each route listens on a local port and forwards every connection to one server. Its
faults, set and lifted while connections stay open:

* ``delay``: seconds added to every chunk, in both directions, order kept (latency, not
  a bandwidth limit);
* ``blackhole``: nothing is forwarded, connections stay open; what was held goes on when
  the black hole ends, as TCP would deliver it after a partition heals;
* ``cut``: every open connection is reset (new ones are taken as usual).

While a server is down, a connection to it is accepted and then reset, as a TCP load
balancer or a sidecar proxy in front of it would do.

It runs as a process of its own, so that a busy test process slows no service:
``python -m tests.support.proxy --control-port N --route NAME=LISTEN:HOST:PORT ...``,
controlled with ``POST /routes/{name}`` and ``{"delay": s}``, ``{"blackhole": bool}`` or
``{"cut": true}``. In a test: ``async with running_proxies(http, targets) as proxies``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

from tests.support.infra import ROOT

CHUNK = 64 * 1024


@dataclass(eq=False)
class Link:
    """One proxied connection: the client's side and the server's."""

    client: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    server: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    pumps: list[asyncio.Future[None]] = field(default_factory=list)

    def abort(self) -> None:
        for _, writer in (self.client, self.server):
            writer.transport.abort()
        for pump in self.pumps:
            pump.cancel()


@dataclass(eq=False)
class Route:
    name: str
    target: tuple[str, int]
    delay: float = 0.0
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    links: set[Link] = field(default_factory=set)
    accepted: int = 0
    forwarded: int = 0  # bytes

    def __post_init__(self) -> None:
        self.flowing.set()

    async def listen(self, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._accept, "127.0.0.1", port)

    def blackhole(self, on: bool) -> None:
        if on:
            self.flowing.clear()
        else:
            self.flowing.set()

    def cut(self) -> int:
        links = list(self.links)
        for link in links:
            link.abort()
        return len(links)

    def state(self) -> dict[str, Any]:
        return {
            "delay": self.delay,
            "blackhole": not self.flowing.is_set(),
            "open": len(self.links),
            "accepted": self.accepted,
            "forwarded": self.forwarded,
        }

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            server = await asyncio.wait_for(asyncio.open_connection(*self.target), 5)
        except (OSError, TimeoutError):
            writer.transport.abort()  # the server is down: so is the connection through us
            return
        link = Link((reader, writer), server)
        link.pumps = [
            asyncio.ensure_future(self._pump(reader, server[1])),
            asyncio.ensure_future(self._pump(server[0], writer)),
        ]
        self.links.add(link)
        try:
            await asyncio.wait(link.pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.links.discard(link)
            link.abort()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Reads as it comes, writes each chunk ``delay`` after it came and while not
        black-holed; ends at end of stream or at the first error either side."""
        loop = asyncio.get_running_loop()
        held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            with contextlib.suppress(OSError):
                while chunk := await source.read(CHUNK):
                    held.put_nowait((loop.time() + self.delay, chunk))
            held.put_nowait((0.0, b""))

        reading = asyncio.ensure_future(read())
        try:
            while True:
                due, chunk = await held.get()
                if not chunk:
                    return
                await self.flowing.wait()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                await self.flowing.wait()
                sink.write(chunk)
                await sink.drain()
                self.forwarded += len(chunk)
        except OSError:
            return
        finally:
            reading.cancel()


class ProxyServer:
    """The routes of one proxy process and their control API."""

    def __init__(self, routes: Mapping[str, tuple[int, str, int]]) -> None:
        self.ports = {name: listen for name, (listen, _, _) in routes.items()}
        self.routes = {name: Route(name, (host, port)) for name, (_, host, port) in routes.items()}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/routes", self._list)
        app.router.add_post("/routes/{name}", self._set)
        app.cleanup_ctx.append(self._listening)
        return app

    async def _listening(self, _: web.Application) -> AsyncIterator[None]:
        servers = [await self.routes[n].listen(port) for n, port in self.ports.items()]
        yield
        for server in servers:
            server.close()
        for route in self.routes.values():
            route.cut()

    async def _list(self, _: web.Request) -> web.Response:
        return web.json_response({name: r.state() for name, r in self.routes.items()})

    async def _set(self, request: web.Request) -> web.Response:
        route = self.routes.get(request.match_info["name"])
        if route is None:
            return web.json_response({"error": "no such route"}, status=404)
        change = await request.json()
        if "delay" in change:
            route.delay = float(change["delay"])
        if "blackhole" in change:
            route.blackhole(bool(change["blackhole"]))
        cut = route.cut() if change.get("cut") else 0
        return web.json_response({**route.state(), "cut": cut})


class Proxies:
    """Drives a proxy process: the port of each route and its faults."""

    def __init__(self, http: ClientSession, control: str, ports: Mapping[str, int]) -> None:
        self.http, self.control, self.ports = http, control, dict(ports)

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    async def delay(self, name: str, seconds: float) -> None:
        await self._set(name, {"delay": seconds})

    async def blackhole(self, name: str, on: bool = True) -> None:
        await self._set(name, {"blackhole": on})

    async def cut(self, name: str) -> int:
        return int((await self._set(name, {"cut": True}))["cut"])

    async def heal(self, name: str) -> None:
        await self._set(name, {"delay": 0.0, "blackhole": False})

    async def state(self) -> dict[str, dict[str, Any]]:
        async with self.http.get(f"{self.control}/routes") as response:
            response.raise_for_status()
            found: dict[str, dict[str, Any]] = await response.json()
            return found

    async def _set(self, name: str, change: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(f"{self.control}/routes/{name}", json=change) as response:
            response.raise_for_status()
            state: dict[str, Any] = await response.json()
            return state


@contextlib.asynccontextmanager
async def running_proxies(
    http: ClientSession, targets: Mapping[str, tuple[str, int]]
) -> AsyncIterator[Proxies]:
    """A proxy process with one route per target (``name: (host, port)``), each on a
    free local port; yields its driver."""
    from tests.support.bus import eventually  # not needed by the proxy's own process
    from tests.support.processes import free_port

    ports = {name: free_port() for name in targets}
    control = free_port()
    argv = [f"--control-port={control}"] + [
        f"--route={name}={ports[name]}:{host}:{port}" for name, (host, port) in targets.items()
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.proxy",
        *argv,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    proxies = Proxies(http, f"http://127.0.0.1:{control}", ports)

    async def answering() -> bool:
        assert process.returncode is None, "the proxy exited"
        try:
            await proxies.state()
        except OSError:
            return False
        return True

    try:
        await eventually(answering, timeout=15, what="the proxy answering")
        yield proxies
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 10)


def route_arg(text: str) -> tuple[str, tuple[int, str, int]]:
    name, _, spec = text.partition("=")
    listen, host, port = spec.split(":")
    return name, (int(listen), host, int(port))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fault-injecting TCP proxy (tests only)")
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--route", type=route_arg, action="append", default=[])
    args = parser.parse_args(argv)
    server = ProxyServer(dict(args.route))
    web.run_app(server.app(), host="127.0.0.1", port=args.control_port, print=None, access_log=None)


if __name__ == "__main__":
    main()
