"""``/api/tenants/{id}/rules``: keyword and event rules, and the dry run.

Every change tells all replicas (``rules.changed``), so the next message uses it. A
stored rule that no longer validates is listed apart (``skipped``, with why), answers
nothing, and can be replaced or deleted.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web

from services.replies.cache import RuleSetCache
from services.replies.inbound import BadMessage, inbound_of_test
from services.replies.repository import RuleRepository
from services.replies.rules import InvalidRule
from services.replies.stored_rules import load_rules
from services.replies.validation import validate_rule
from shared.contracts.tenancy import TENANT_ID_ROUTE
from shared.platform.auth import require_tenant
from shared.platform.control import ControlBus
from shared.platform.directory import TenantDirectory
from shared.platform.web import ApiError, read_json_object

RULES = f"/api/tenants/{TENANT_ID_ROUTE}/rules"
RULE = RULES + "/{rule_id:r[0-9a-f]{12}}"
as_stored = partial(json.dumps, default=str)  # a rule stored straight in the database


def _valid(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("id", None)
    try:
        validate_rule(data)
    except InvalidRule as exc:
        raise ApiError(422, "invalid", f"{exc.field}: {exc.message}", field=exc.field) from None
    return data


def _order(body: dict[str, Any], ids: list[str]) -> list[str]:
    """The ``order`` of a reorder: every rule id once, as strings."""
    order = body.get("order")
    if not isinstance(order, list) or not all(isinstance(rule_id, str) for rule_id in order):
        raise ApiError(422, "invalid", "order: a list of rule ids (strings)", field="order")
    if sorted(order) != sorted(ids):
        raise ApiError(422, "invalid", "order: list every rule id once", field="order")
    return order


async def known_tenant(request: web.Request, directory: TenantDirectory) -> str:
    """The path's tenant, when the key may see it and it exists (else 404 either way)."""
    tenant_id = request.match_info["tenant_id"]
    require_tenant(request, tenant_id)
    if not await directory.exists(tenant_id):
        raise ApiError(404, "not_found", f"no tenant {tenant_id}")
    return tenant_id


@dataclass(frozen=True, slots=True)
class RulesApi:
    repository: RuleRepository
    cache: RuleSetCache
    directory: TenantDirectory
    control: ControlBus
    max_rules: int

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(RULES, self.list),
            web.post(RULES, self.create),
            web.get(RULE, self.show),
            web.put(RULE, self.replace),
            web.patch(RULE, self.update),
            web.delete(RULE, self.delete),
            web.post(RULES + "/reorder", self.reorder),
            web.post(RULES + "/test", self.dry_run),
        ]

    async def _tenant(self, request: web.Request) -> str:
        return await known_tenant(request, self.directory)

    async def _rule(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        tenant_id = await self._tenant(request)
        rule = await self.repository.get(tenant_id, request.match_info["rule_id"])
        if rule is None:
            raise ApiError(404, "not_found", f"no rule {request.match_info['rule_id']}")
        return tenant_id, rule

    async def _changed(self, tenant_id: str) -> None:
        await self.control.notify("rules.changed", tenant_id)

    async def list(self, request: web.Request) -> web.Response:
        tenant_id = await self._tenant(request)
        loaded = load_rules(await self.repository.all(tenant_id))
        skipped = [rule.to_json() for rule in loaded.skipped]
        return web.json_response({"items": loaded.stored, "skipped": skipped})

    async def create(self, request: web.Request) -> web.Response:
        tenant_id = await self._tenant(request)
        data = _valid(await read_json_object(request))
        rule = await self.repository.create(tenant_id, data, limit=self.max_rules)
        if rule is None:
            message = f"a tenant has at most {self.max_rules} rules: delete one first"
            raise ApiError(422, "too_many_rules", message)
        await self._changed(tenant_id)
        return web.json_response(rule, status=201)

    async def show(self, request: web.Request) -> web.Response:
        return web.json_response((await self._rule(request))[1], dumps=as_stored)

    async def replace(self, request: web.Request) -> web.Response:
        tenant_id, rule = await self._rule(request)
        data = _valid(await read_json_object(request))
        saved = await self.repository.replace(tenant_id, rule["id"], data)
        await self._changed(tenant_id)
        return web.json_response(saved)

    async def update(self, request: web.Request) -> web.Response:
        """Changes some fields (``{"enabled": false}`` disables a rule)."""
        tenant_id, rule = await self._rule(request)
        change = await read_json_object(request)
        if "reply" in change and "replies" in change:
            raise ApiError(422, "invalid", 'reply: give one of "reply" or "replies"', field="reply")
        merged = {**{k: v for k, v in rule.items() if k != "id"}, **change}
        if "reply" in merged and "replies" in merged:  # the change swaps one form for the other
            merged.pop("replies" if "reply" in change else "reply")
        saved = await self.repository.replace(tenant_id, rule["id"], _valid(merged))
        await self._changed(tenant_id)
        return web.json_response(saved)

    async def delete(self, request: web.Request) -> web.Response:
        tenant_id, rule = await self._rule(request)
        await self.repository.delete(tenant_id, rule["id"])
        await self._changed(tenant_id)
        return web.Response(status=204)

    async def reorder(self, request: web.Request) -> web.Response:
        """``{"order": [rule ids, first wins]}``: priorities are renumbered to that order
        (the rules listed as skipped keep theirs)."""
        tenant_id = await self._tenant(request)
        body = await read_json_object(request)
        rules = {
            rule["id"]: rule for rule in load_rules(await self.repository.all(tenant_id)).stored
        }
        order = _order(body, list(rules))
        for rank, rule_id in enumerate(order):
            rule = {k: v for k, v in rules[rule_id].items() if k != "id"}
            await self.repository.replace(
                tenant_id, rule_id, {**rule, "priority": len(order) - rank}
            )
        await self._changed(tenant_id)
        return await self.list(request)

    async def dry_run(self, request: web.Request) -> web.Response:
        """Which rule answers ``{"message": ...}`` now, and with what; nothing is sent."""
        tenant_id = await self._tenant(request)
        try:
            inbound = inbound_of_test((await read_json_object(request)).get("message"))
        except BadMessage as exc:
            raise ApiError(422, "invalid", f"{exc.field}: {exc}", field=exc.field) from None
        rule_set = await self.cache.get(tenant_id)
        answer = rule_set.answer(inbound, datetime.now(UTC), random.Random())
        if answer is None:
            return web.json_response({"rule": None, "reply": None})
        rule, reply = answer
        stored = await self.repository.get(tenant_id, rule.id) if rule.id else None
        return web.json_response({"rule": stored, "reply": reply.to_json()})
