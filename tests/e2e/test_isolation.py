"""Nothing leaks across tenants: every route of every service's OpenAPI document, walked
with no key and with another tenant's key, over the four services run as processes.

Tenant A's key is sent at B's resources (B's id in ``{tenant_id}``, B's real key id in
``{key_id}``) with a valid body, so that only the isolation check stands between the
request and a change; at the end B, its keys and the agency's key are as they were.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession
from openapi_schema_validator import OAS30Validator, validate

from tests.conftest import account_from, new_appid
from tests.e2e.conftest import ADMIN_KEY
from tests.support.bus import eventually
from tests.support.gateway import send
from tests.support.processes import ServiceProcess

SERVICES = ("gateway", "replies", "scheduler", "analytics")
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
FAST = {"WXP_API_RATE_PER_SECOND": "1000", "WXP_API_BURST": "1000"}
# Values for fields whose pattern example() cannot satisfy; a body that still does not
# validate fails the test naming the field: add it here (or an "example" to its schema).
FIELD_VALUES: dict[str, Any] = {"appid": new_appid}
PLACEHOLDER_ID = "0123456789ab"  # path ids we have no real one for (none yet)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ADMIN = bearer(ADMIN_KEY)


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def example(doc: dict[str, Any], schema: dict[str, Any], name: str = "") -> Any:
    """A minimal valid instance of ``schema``: required properties only."""
    schema = resolve(doc, schema)
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if "enum" in schema:
        return schema["enum"][0]
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(example(doc, part, name))
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema and "properties" in schema:  # alternatives that only require fields
            first = schema[key][0]
            narrowed = {k: v for k, v in schema.items() if k != key}
            narrowed["required"] = [*schema.get("required", []), *first.get("required", [])]
            return example(doc, narrowed, name)
        if key in schema:
            return example(doc, schema[key][0], name)
    if name in FIELD_VALUES:
        return FIELD_VALUES[name]()
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        wanted = list(schema.get("required", []))
        wanted += [p for p in properties if p not in wanted][
            : max(0, schema.get("minProperties", 0) - len(wanted))
        ]
        return {p: example(doc, properties.get(p, {}), p) for p in wanted}
    if kind == "array":
        return [example(doc, schema.get("items", {}), name)] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    return f"iso {name}".ljust(schema.get("minLength", 1), "x")[: schema.get("maxLength", 100)]


def request_body(doc: dict[str, Any], op: dict[str, Any]) -> Any:
    if "requestBody" not in op:
        return None
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    body = example(doc, schema)
    validate(body, {**schema, "components": doc["components"]}, cls=OAS30Validator)
    return body


def query(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, str]:
    return {
        p["name"]: str(example(doc, p.get("schema", {}), p["name"]))
        for p in op.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


async def call(
    http: ClientSession,
    method: str,
    url: str,
    headers: dict[str, str],
    body: Any = None,
    params: dict[str, str] | None = None,
) -> tuple[int, str, dict[str, Any] | None]:
    async with http.request(method, url, json=body, headers=headers, params=params) as response:
        text = await response.text()
        is_json = response.content_type == "application/json"
        return response.status, text, (await response.json()) if is_json else None


def is_error(answer: dict[str, Any] | None) -> bool:
    """The error shape every API answers: {"error": {"code", "message"}}."""
    error = answer.get("error") if isinstance(answer, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
    )


async def post(http: ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    status, text, answer = await call(http, "POST", url, ADMIN, body)
    assert status == 201, text
    assert answer is not None
    return answer


async def get(http: ClientSession, url: str, headers: dict[str, str] = ADMIN) -> Any:
    status, text, answer = await call(http, "GET", url, headers)
    assert status == 200, (url, text)
    return answer


@dataclass
class Walk:
    """Sends each operation with no key, a made-up key and A's key; notes what is wrong."""

    http: ClientSession
    a_key: str
    b: str
    b_marks: list[str]  # what only B's own callers may ever see
    real_ids: dict[str, str]
    problems: list[str] = field(default_factory=list)
    walked: list[str] = field(default_factory=list)

    def expect(self, ok: bool, where: str, what: str, status: int, text: str) -> None:
        if not ok:
            self.problems.append(f"{where}: {what}, got {status} {text[:200]}")

    async def operation(self, base: str, doc: dict[str, Any], template: str, method: str) -> None:
        op = doc["paths"][template][method]
        scoped = "{tenant_id}" in template
        key_id = self.real_ids["tenant" if scoped else "agency"]
        path = template.replace("{tenant_id}", self.b).replace("{key_id}", key_id)
        for name in ("rule", "broadcast", "run", "event"):
            path = path.replace(f"{{{name}_id}}", self.real_ids.get(name, PLACEHOLDER_ID))
        for param in (p for p in op.get("parameters", []) if p["in"] == "path"):
            path = path.replace(f"{{{param['name']}}}", PLACEHOLDER_ID)
        url, body, params = base + path, request_body(doc, op), query(doc, op)
        where = f"{doc['info']['title']}: {method.upper()} {template}"
        self.walked.append(f"{method.upper()} {template}")

        for headers in ({}, bearer(f"wxp_{'0' * 12}_{'x' * 32}")):
            status, text, answer = await call(self.http, method, url, headers, body, params)
            self.expect(status == 401 and is_error(answer), where, "401 with no key", status, text)

        status, text, answer = await call(self.http, method, url, bearer(self.a_key), body, params)
        wanted = {404} if scoped else {403, 404}
        self.expect(
            status in wanted and is_error(answer), where, f"{wanted} for A's key", status, text
        )
        leaked = [mark for mark in self.b_marks if mark in text]
        self.expect(not leaked, where, f"nothing of B's (leaked {leaked})", status, text)
        if method == "get" and scoped:  # the same request works with a key that may see B
            status, text, _ = await call(self.http, method, url, ADMIN, params=params)
            self.expect(status == 200, where, "200 for the admin key", status, text)

    async def stray(self, base: str, name: str) -> None:
        """A route no document names answers the same: 401 without a key, 404 with A's."""
        url = f"{base}/api/tenants/{self.b}/no-such-route"
        for headers, wanted in (({}, 401), (bearer(self.a_key), 404)):
            status, text, answer = await call(self.http, "GET", url, headers)
            ok = status == wanted and is_error(answer)
            self.expect(ok, f"{name}: GET undocumented", str(wanted), status, text)


B_BROADCAST = {
    "name": "B's push",
    "message": {"type": "text", "content": "B's news"},
    "audience": {"kind": "tag", "tag_id": 7},
    "schedule": {"best_on": "2099-12-04"},
}
B_RULE = {
    "name": "B only",
    "priority": 1,
    "enabled": True,
    "trigger": {"kind": "keyword", "match": "exact", "pattern": "secret-of-b"},
    "reply": {"type": "text", "content": "B's answer"},
}


async def test_no_key_and_a_foreign_key_reach_nothing_on_any_route(
    services, http: ClientSession, onboarded
) -> None:
    started = {name: await services(name, **FAST) for name in SERVICES}
    gateway = started["gateway"].url
    tenants = {
        label: (await onboarded(gateway, name=f"Tenant {label} {secrets.token_hex(4)}"))[0]
        for label in ("A", "B")
    }
    a, b = tenants["A"]["id"], tenants["B"]["id"]
    a_key = await post(http, f"{gateway}/api/tenants/{a}/keys", {"name": "isolation A"})
    b_key = await post(http, f"{gateway}/api/tenants/{b}/keys", {"name": "isolation B"})
    agency_key = await post(http, f"{gateway}/api/keys", {"name": "isolation"})
    b_rule = await post(http, f"{started['replies'].url}/api/tenants/{b}/rules", B_RULE)
    b_event = await unanswered(http, gateway, started["replies"].url, tenants["B"])
    broadcasts = f"{started['scheduler'].url}/api/tenants/{b}/broadcasts"
    b_broadcast = await post(http, broadcasts, B_BROADCAST)
    b_run = (await get(http, f"{broadcasts}/{b_broadcast['id']}"))["runs"][0]
    ids = {
        "tenant": b_key["id"],
        "agency": agency_key["id"],
        "rule": b_rule["id"],
        "broadcast": b_broadcast["id"],
        "run": b_run["run_id"],
        "event": b_event["id"],
    }
    try:
        await walk_everything(http, started, tenants, a_key["key"], ids)
        shown = await get(http, f"{broadcasts}/{b_broadcast['id']}")
        assert (shown["status"], shown["runs"]) == ("scheduled", [b_run])  # as it was
        # B's message neither answered nor closed by A's key:
        inbox = await get(http, f"{started['replies'].url}/api/tenants/{b}/inbox?status=all")
        ticking = "window_left_seconds"  # counted at each request
        assert [{**i, ticking: 0} for i in inbox["items"]] == [{**b_event, ticking: 0}]
    finally:
        for path in (
            f"/api/tenants/{a}/keys/{a_key['id']}",
            f"/api/tenants/{b}/keys/{b_key['id']}",
            f"/api/keys/{agency_key['id']}",
        ):
            await call(http, "DELETE", gateway + path, ADMIN)


async def unanswered(
    http: ClientSession, gateway: str, replies: str, tenant: dict[str, Any]
) -> dict[str, Any]:
    """A message of B's reader that no rule answers: B's inbox item."""
    answer = await send(
        http, gateway, account_from(tenant), "text", overrides={"Content": "B's question"}
    )
    assert answer.status == 200
    items: list[dict[str, Any]] = []

    async def arrived() -> bool:
        items[:] = (await get(http, f"{replies}/api/tenants/{tenant['id']}/inbox"))["items"]
        return bool(items)

    await eventually(arrived, 15, "B's message in its inbox")
    return items[0]


async def walk_everything(
    http: ClientSession,
    started: dict[str, ServiceProcess],
    tenants: dict[str, dict[str, Any]],
    a_key: str,
    real_ids: dict[str, str],
) -> None:
    b_key_id, agency_key_id, b_rule_id = (real_ids[k] for k in ("tenant", "agency", "rule"))
    gateway = started["gateway"].url
    a, b = tenants["A"]["id"], tenants["B"]["id"]
    assert (await get(http, f"{gateway}/api/tenants/{a}", bearer(a_key)))["id"] == a
    walk = Walk(
        http=http,
        a_key=a_key,
        b=b,
        b_marks=[tenants["B"][f] for f in ("name", "appid", "webhook_url", "token")],
        real_ids=real_ids,
    )
    b_before = await get(http, f"{gateway}/api/tenants/{b}")
    rule_url = f"{started['replies'].url}/api/tenants/{b}/rules/{b_rule_id}"
    b_rule_before = await get(http, rule_url)
    b_keys_before = await get(http, f"{gateway}/api/tenants/{b}/keys")
    assert b_key_id in {key["id"] for key in b_keys_before["items"]}

    for name, service in started.items():
        doc = await get(http, f"{service.url}/api/openapi.json", {})  # public: no key
        for template, item in doc["paths"].items():
            for method in (m for m in HTTP_METHODS if m in item):
                await walk.operation(service.url, doc, template, method)
        await walk.stray(service.url, name)

    assert not walk.problems, "\n".join(walk.problems)
    assert await get(http, rule_url) == b_rule_before  # B's rule untouched by A's key
    assert {"GET /api/tenants/{tenant_id}", "DELETE /api/keys/{key_id}"} <= set(walk.walked)
    assert {
        "GET /api/tenants/{tenant_id}/inbox",
        "POST /api/tenants/{tenant_id}/inbox/{event_id}/reply",
        "POST /api/tenants/{tenant_id}/inbox/{event_id}/close",
    } <= set(walk.walked)
    assert len(walk.walked) >= 11, walk.walked  # at least every operation of the agency API
    assert await get(http, f"{gateway}/api/tenants/{b}") == b_before
    assert await get(http, f"{gateway}/api/tenants/{b}/keys") == b_keys_before
    agency_keys = await get(http, f"{gateway}/api/keys")
    assert agency_key_id in {key["id"] for key in agency_keys["items"]}
