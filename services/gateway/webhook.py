"""``GET|POST /wx/{tenant_id}``: WeChat's side of the gateway.

Each handler verifies, parses and hands over to :class:`Intake`; every refusal is
counted by reason and answered with a short plain-text status, never published.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from services.gateway.bounded import DatabaseSlow
from services.gateway.connections import Connections
from services.gateway.intake import Intake
from services.gateway.messages import MessageError, parse_xml, to_envelope, wants_reply
from services.gateway.metrics import GatewayMetrics
from services.gateway.render import render_reply
from services.gateway.replays import Check, ReplayGuard
from services.gateway.settings import GatewaySettings
from services.gateway.tenant_cache import TenantCache
from services.gateway.verify import Credentials, Rejected, Verified, verify_echo, verify_post
from shared.platform.bus import BrokerUnavailable
from shared.platform.logs import clip
from shared.platform.storage import PyMongoError
from shared.wechat.crypto import MessageCrypto, encrypted_envelope

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Webhook:
    settings: GatewaySettings
    tenants: TenantCache
    intake: Intake
    metrics: GatewayMetrics
    replays: ReplayGuard
    connections: Connections

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/wx/{tenant_id}", self._guard(self.verify_url)),
            web.post("/wx/{tenant_id}", self._guard(self.receive)),
        ]

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except Rejected as exc:
                self.metrics.rejected.labels(exc.cause).inc()
                logger.info("refused %s %s: %s", request.method, clip(request.path), exc.cause)
                return web.Response(status=exc.status, text=f"{exc.reason}: {exc}")
            except (BrokerUnavailable, DatabaseSlow, PyMongoError) as exc:
                self.metrics.rejected.labels("unavailable").inc()
                logger.error("cannot take %s now: %s", clip(request.path), clip(exc))
                return web.Response(status=503, text="unavailable: try again")

        return guarded

    async def _credentials(self, request: web.Request) -> Credentials:
        credentials = await self.tenants.get(request.match_info["tenant_id"])
        if credentials is None:
            raise Rejected(404, "unknown_tenant", "no such account")
        return credentials

    async def verify_url(self, request: web.Request) -> web.StreamResponse:
        credentials = await self._credentials(request)
        echostr = verify_echo(
            credentials,
            request.query,
            now=time.time(),
            tolerance=self.settings.timestamp_tolerance_seconds,
        )
        self.connections.verified(request.match_info["tenant_id"])
        return web.Response(text=echostr)

    async def receive(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await _read_limited(request, self.settings.max_body_bytes)
        credentials = await self._credentials(request)
        verified = verify_post(
            credentials,
            request.query,
            body,
            now=time.time(),
            tolerance=self.settings.timestamp_tolerance_seconds,
        )
        self.connections.verified(request.match_info["tenant_id"])
        if credentials.encrypt_mode != "safe":  # its plain signature does not cover the body
            await self._refuse_replays(request, body)
        try:
            event = to_envelope(
                request.match_info["tenant_id"],
                parse_xml(verified.xml),
                received_at=datetime.now(UTC),
            )
        except MessageError as exc:
            raise Rejected(400, exc.reason, str(exc)) from None
        answer = await self.intake.accept(event, wants_reply=wants_reply(event), arrived=arrived)
        if answer is None or answer.reply is None:
            return web.Response(text="success")
        xml = render_reply(answer.reply, event, now=int(time.time()))
        self.intake.dispatch.replied(event, answer)
        return web.Response(
            body=self._seal(xml, credentials, verified), content_type="application/xml"
        )

    async def _refuse_replays(self, request: web.Request, body: bytes) -> None:
        """Rejected when the request's signature came with another body before."""
        query, tenant_id = request.query, request.match_info["tenant_id"]
        checked = await self.replays.check(tenant_id, query["timestamp"], query["nonce"], body)
        if checked is Check.UNCHECKED:
            self.metrics.replay_unchecked.inc()

    def _seal(self, xml: bytes, credentials: Credentials, verified: Verified) -> bytes:
        if not verified.encrypted or verified.aes_key is None:
            return xml
        encrypted = MessageCrypto(verified.aes_key, credentials.appid).encrypt(xml)
        return encrypted_envelope(
            credentials.token, encrypted, str(int(time.time())), os.urandom(8).hex()
        )


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, "too_large", f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > limit:
            raise Rejected(413, "too_large", f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
