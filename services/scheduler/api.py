"""``/api/tenants/{id}/broadcasts`` and ``/api/tenants/{id}/quota``: HTTP over
``broadcasts.py``, whose named errors become 422 (naming the field) and 409 (naming the
state). Another tenant's key gets 404 on every route."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from services.scheduler.broadcasts import Broadcasts, Conflict, QuotaFull, view_of
from services.scheduler.planning import Account
from services.scheduler.schedule import iso_z
from services.scheduler.spec import InvalidBroadcast, Message
from services.scheduler.store import BroadcastStore
from services.scheduler.wechat_calls import MassCalls
from shared.contracts.tenancy import TENANT_ID_ROUTE
from shared.platform.auth import require_tenant
from shared.platform.web import ApiError, read_json_object

BROADCASTS = f"/api/tenants/{TENANT_ID_ROUTE}/broadcasts"
BROADCAST = BROADCASTS + "/{broadcast_id:b[0-9a-f]{20}}"
RETRACT = BROADCAST + "/runs/{run_id:r[0-9]{8}T[0-9]{6}Z}/retract"
QUOTA = f"/api/tenants/{TENANT_ID_ROUTE}/quota"
STATUSES = (
    "scheduled",
    "sending",
    "submitted",
    "finished",
    "failed",
    "cancelled",
    "skipped",
    "completed",
)
MAX_PAGE = 200
MAX_PREVIEW = 100
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refusals(handler: Handler) -> Handler:
    async def mapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except InvalidBroadcast as exc:
            raise ApiError(422, "invalid", str(exc), field=exc.field) from None
        except QuotaFull as exc:
            when = {"next_allowed_at": iso_z(exc.next_allowed_at)}
            raise ApiError(
                422, "quota_exhausted", str(exc), field="schedule", details=when
            ) from None
        except Conflict as exc:
            raise ApiError(409, "conflict", str(exc), field="status") from None

    return mapped


@dataclass(frozen=True, slots=True)
class BroadcastsApi:
    broadcasts: Broadcasts
    store: BroadcastStore
    wechat: MassCalls
    now: Callable[[], datetime]

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(BROADCASTS, refusals(self.create)),
            web.get(BROADCASTS, self.list),
            web.get(BROADCAST, self.show),
            web.delete(BROADCAST, refusals(self.delete)),
            web.post(BROADCAST + "/cancel", refusals(self.cancel)),
            web.post(BROADCAST + "/preview", self.preview),
            web.post(RETRACT, self.retract),
            web.get(QUOTA, self.quota),
        ]

    async def _account(self, request: web.Request) -> Account:
        tenant_id = request.match_info["tenant_id"]
        require_tenant(request, tenant_id)
        doc = await self.store.tenant(tenant_id)
        if doc is None:
            raise ApiError(404, "not_found", f"no tenant {tenant_id}")
        return Account.of(tenant_id, doc)

    async def _broadcast(self, request: web.Request) -> tuple[Account, dict[str, Any]]:
        account = await self._account(request)
        bid = request.match_info["broadcast_id"]
        doc = await self.store.broadcast(account.tenant_id, bid)
        if doc is None:
            raise ApiError(404, "not_found", f"no broadcast {bid}")
        return account, doc

    async def create(self, request: web.Request) -> web.Response:
        account = await self._account(request)
        created = await self.broadcasts.create(account, await read_json_object(request))
        return web.json_response(created, status=201)

    async def list(self, request: web.Request) -> web.Response:
        account = await self._account(request)
        status = request.query.get("status")
        if status is not None and status not in STATUSES:
            raise ApiError(422, "invalid", f"status: one of {', '.join(STATUSES)}", field="status")
        raw_limit = request.query.get("limit", "50")
        if not re.fullmatch("[0-9]{1,3}", raw_limit) or not 1 <= int(raw_limit) <= MAX_PAGE:
            raise ApiError(422, "invalid", f"limit: 1 to {MAX_PAGE}", field="limit")
        with_runs = request.query.get("runs", "false")
        if with_runs not in ("true", "false"):
            raise ApiError(422, "invalid", "runs: true or false", field="runs")
        after, limit = request.query.get("after"), int(raw_limit)
        docs = await self.store.broadcasts(
            account.tenant_id, status=status, limit=limit, after=after
        )
        notes = await self.store.notes(account.tenant_id)
        runs = (
            await self.store.runs_of_each(account.tenant_id, [doc["_id"] for doc in docs])
            if with_runs == "true"
            else None
        )
        warnings = await self.broadcasts.warnings_of(account, docs, notes)
        items = []
        for doc in docs:
            view = view_of(doc, warnings.get(doc["_id"], []))
            if runs is not None:
                view["runs"] = [run.view() for run in runs[doc["_id"]]]
            items.append(view)
        next_after = docs[-1]["_id"] if len(docs) == limit else None
        return web.json_response({"broadcasts": items, "next_after": next_after})

    async def show(self, request: web.Request) -> web.Response:
        account, doc = await self._broadcast(request)
        runs = await self.store.runs_of(account.tenant_id, doc["_id"])
        view = view_of(doc, doc.get("warnings", []))
        return web.json_response({**view, "runs": [run.view() for run in runs]})

    async def cancel(self, request: web.Request) -> web.Response:
        account, doc = await self._broadcast(request)
        await self.broadcasts.cancel(account, doc)
        return web.json_response({**view_of(doc, []), "status": "cancelled", "next_run_at": None})

    async def delete(self, request: web.Request) -> web.Response:
        account, doc = await self._broadcast(request)
        await self.broadcasts.delete(account, doc)
        return web.Response(status=204)

    async def preview(self, request: web.Request) -> web.Response:
        account, doc = await self._broadcast(request)
        kind, names = _preview_targets(await read_json_object(request))
        message = Message.from_json(doc["message"])
        outcomes = await self.wechat.preview(account.appid, message, kind, names)
        return web.json_response({"previews": outcomes})

    async def retract(self, request: web.Request) -> web.Response:
        account, doc = await self._broadcast(request)
        body = await read_json_object(request)
        index = body.get("article_idx", 0)
        if set(body) - {"article_idx"} or type(index) is not int or not 0 <= index <= 8:
            raise ApiError(
                422, "invalid", "article_idx: 0 (every article) to 8", field="article_idx"
            )
        if not Message.from_json(doc["message"]).retractable:
            message = "message: only mpnews and mpvideo broadcasts can be retracted"
            raise ApiError(422, "invalid", message, field="message")
        run = await self.store.run(account.tenant_id, doc["_id"], request.match_info["run_id"])
        if run is None:
            raise ApiError(404, "not_found", "no such run")
        if not run.msg_ids:
            raise ApiError(
                409, "conflict", f"run is {run.status}: nothing was sent", field="status"
            )
        errcodes = await self.wechat.retract(account.appid, run.msg_ids, index)
        if any(errcodes):
            message = f"WeChat refused the mass delete (errcodes {errcodes})"
            raise ApiError(502, "wechat_refused", message)
        await self.store.add_retraction(run, {"article_idx": index, "at": self.now()})
        view = {"run_id": run.run_id, "retracted": run.msg_ids, "article_idx": index}
        return web.json_response(view)

    async def quota(self, request: web.Request) -> web.Response:
        account = await self._account(request)
        view = await self.broadcasts.quota(account, self.now())
        return web.json_response(view.to_json())


def _preview_targets(body: dict[str, Any]) -> tuple[str, list[str]]:
    kinds = {"openids", "wxnames"} & set(body)
    if len(body) != 1 or not kinds:
        message = 'send {"openids": [...]} or {"wxnames": [...]}'
        raise ApiError(422, "invalid", message, field="openids")
    kind = kinds.pop()
    names = body[kind]
    if (
        not isinstance(names, list)
        or not 1 <= len(names) <= MAX_PREVIEW
        or not all(isinstance(n, str) and 0 < len(n) <= 64 for n in names)
    ):
        message = f"{kind}: 1 to {MAX_PREVIEW} non-empty strings of at most 64 characters"
        raise ApiError(422, "invalid", message, field=kind)
    return kind, names
