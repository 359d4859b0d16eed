"""What analytics asks WeChat: channel QR codes (``qrcode/create``) and the data cube's
daily follower figures (``getusersummary``, ``getusercumulate``), which give the baseline
that ``cumulative`` and ``followers_known`` start from."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.analytics.store import AnalyticsStore
from shared.wechat.runtime import WeChatRuntime

BEIJING = ZoneInfo("Asia/Shanghai")
READY_AT = time(8, 0)  # yesterday's data cube figures are there from 08:00 Beijing time
SPAN_DAYS = 7  # WeChat's longest range per data cube call
MAX_EXPIRE = 2_592_000  # 30 days: WeChat's longest temporary code
SHOW = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="


@dataclass(frozen=True, slots=True)
class WeChatData:
    wechat: WeChatRuntime
    store: AnalyticsStore
    now: Callable[[], datetime]

    async def create_qrcode(
        self, tenant_id: str, appid: str, scene: str, *, permanent: bool, expire_seconds: int
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "action_name": "QR_LIMIT_STR_SCENE" if permanent else "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        if not permanent:
            body["expire_seconds"] = expire_seconds
        answer = await self.wechat.client.call(appid, "POST", "/cgi-bin/qrcode/create", json=body)
        ticket = str(answer["ticket"]) if isinstance(answer, dict) else ""
        now = self.now()
        code = {
            "_id": scene,
            "scene": scene,
            "permanent": permanent,
            "ticket": ticket,
            "url": answer.get("url") if isinstance(answer, dict) else None,
            "image_url": SHOW + urllib.parse.quote(ticket, safe=""),
            "created_at": now,
            "expires_at": None if permanent else now + timedelta(seconds=expire_seconds),
        }
        await self.store.save_qrcode(tenant_id, code)
        return code

    def last_ready_day(self) -> date:
        """The newest day the data cube has: yesterday from 08:00 Beijing, else the day before."""
        local = self.now().astimezone(BEIJING)
        back = 1 if local.time() >= READY_AT else 2
        return local.date() - timedelta(days=back)

    async def backfill(self, tenant_id: str, appid: str, days: int) -> dict[str, Any]:
        """Reads ``days`` days of the data cube, a span of at most 7 days per call, keeps
        each day's new and cancelled followers by source, and makes the last day's
        cumulative count the tenant's baseline."""
        last = self.last_ready_day()
        first = last - timedelta(days=days - 1)
        figures: dict[str, dict[str, Any]] = {}
        start = first
        while start <= last:
            end = min(start + timedelta(days=SPAN_DAYS - 1), last)
            span = {"begin_date": start.isoformat(), "end_date": end.isoformat()}
            summary = await self._cube(appid, "getusersummary", span)
            for row in summary:
                day = figures.setdefault(str(row["ref_date"]), {"sources": {}, "cumulate": None})
                day["sources"][str(row["user_source"])] = {
                    "new": int(row.get("new_user", 0)),
                    "cancel": int(row.get("cancel_user", 0)),
                }
            for row in await self._cube(appid, "getusercumulate", span):
                day = figures.setdefault(str(row["ref_date"]), {"sources": {}, "cumulate": None})
                day["cumulate"] = int(row["cumulate_user"])
            start = end + timedelta(days=1)
        await self.store.save_datacube(tenant_id, figures)
        baseline = figures.get(last.isoformat(), {}).get("cumulate")
        if baseline is not None:
            await self.store.set_state(
                tenant_id,
                "baseline",
                {"day": last.isoformat(), "value": baseline, "at": self.now()},
            )
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "days": len(figures),
            "baseline": None if baseline is None else {"day": last.isoformat(), "value": baseline},
        }

    async def _cube(self, appid: str, name: str, span: dict[str, str]) -> list[dict[str, Any]]:
        answer = await self.wechat.client.call(
            appid, "POST", f"/datacube/{name}", json=span, idempotent=True
        )
        rows = answer.get("list", []) if isinstance(answer, dict) else []
        return [row for row in rows if isinstance(row, dict)]
