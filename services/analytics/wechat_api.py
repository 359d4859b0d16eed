"""``/api/tenants/{id}/qrcodes`` (channel QR codes through WeChat, listed with each
channel's figures) and ``/api/tenants/{id}/backfill`` (WeChat's data cube: the baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from services.analytics.api import TENANT, AnalyticsApi, answer
from services.analytics.wechat_data import MAX_EXPIRE, WeChatData
from shared.platform.web import ApiError, read_json_object
from shared.wechat.errors import WeChatError

MAX_SCENE = 64
MAX_BACKFILL_DAYS = 180
QR_COLUMNS = ("scene", "permanent", "url", "image_url", "expires_at", "new_30d", "lost_30d")


def _field(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = body.get(name, default)
    if type(value) is not kind:  # bool is not an int here
        raise ApiError(422, "invalid", f"{name}: a {kind.__name__}", field=name)
    return value


@dataclass(frozen=True, slots=True)
class WeChatDataApi:
    api: AnalyticsApi
    data: WeChatData

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(TENANT + "/qrcodes", self.create_qrcode),
            web.get(TENANT + "/qrcodes", self.qrcodes),
            web.post(TENANT + "/backfill", self.backfill),
        ]

    async def _appid(self, tenant_id: str) -> str:
        doc = await self.api.store.tenant(tenant_id)
        return str((doc or {}).get("appid", ""))

    async def create_qrcode(self, request: web.Request) -> web.Response:
        tenant_id, _ = await self.api.tenant_of(request)
        body = await read_json_object(request)
        if set(body) - {"scene", "permanent", "expire_seconds"}:
            raise ApiError(422, "invalid", "scene, permanent, expire_seconds only", field="scene")
        scene = _field(body, "scene", str, None)
        if not 0 < len(scene) <= MAX_SCENE or not scene.strip() or not scene.isprintable():
            message = f"scene: 1 to {MAX_SCENE} printable characters"
            raise ApiError(422, "invalid", message, field="scene")
        permanent = _field(body, "permanent", bool, False)
        expire = _field(body, "expire_seconds", int, MAX_EXPIRE)
        if not 60 <= expire <= MAX_EXPIRE:
            message = f"expire_seconds: 60 to {MAX_EXPIRE} (30 days)"
            raise ApiError(422, "invalid", message, field="expire_seconds")
        try:
            code = await self.data.create_qrcode(
                tenant_id,
                await self._appid(tenant_id),
                scene,
                permanent=permanent,
                expire_seconds=expire,
            )
        except WeChatError as exc:
            raise ApiError(502, "wechat_refused", f"WeChat refused: {exc}") from None
        return web.json_response(_public(code), status=201)

    async def qrcodes(self, request: web.Request) -> web.Response:
        tenant_id, timezone = await self.api.tenant_of(request)
        today = self.api.reports.today(timezone)
        month = today - timedelta(days=29)
        channels = await self.api.reports.channels(tenant_id, timezone, month, today)
        figures = {row["channel"]: row for row in channels}
        rows = []
        for code in await self.api.store.qrcodes(tenant_id):
            channel = figures.get(code["scene"], {})
            rows.append(
                {
                    **_public(code),
                    "new_30d": channel.get("new", 0),
                    "lost_30d": channel.get("lost", 0),
                }
            )
        return answer(request, {"qrcodes": rows}, rows, QR_COLUMNS)

    async def backfill(self, request: web.Request) -> web.Response:
        tenant_id, _ = await self.api.tenant_of(request)
        body = await read_json_object(request)
        if set(body) - {"days"}:
            raise ApiError(422, "invalid", "days only", field="days")
        days = _field(body, "days", int, 30)
        if not 1 <= days <= MAX_BACKFILL_DAYS:
            raise ApiError(422, "invalid", f"days: 1 to {MAX_BACKFILL_DAYS}", field="days")
        try:
            result = await self.data.backfill(tenant_id, await self._appid(tenant_id), days)
        except WeChatError as exc:
            raise ApiError(502, "wechat_refused", f"WeChat refused: {exc}") from None
        return web.json_response(result)


def _public(code: dict[str, Any]) -> dict[str, Any]:
    expires = code.get("expires_at")
    return {
        "scene": code["scene"],
        "permanent": code["permanent"],
        "ticket": code["ticket"],
        "url": code["url"],
        "image_url": code["image_url"],
        "expires_at": expires.isoformat().replace("+00:00", "Z") if expires else None,
    }
