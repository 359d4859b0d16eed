"""The replies service's OpenAPI paths: rules and the dry run."""

from __future__ import annotations

from typing import Any

from shared.platform.openapi import json_response, operation, path_param

RULE_ID = path_param("rule_id", "^r[0-9a-f]{12}$")
TENANT = path_param("tenant_id")
RULE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["name", "priority", "enabled", "trigger"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "priority": {"type": "integer"},
        "enabled": {"type": "boolean"},
        "trigger": {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {
                    "type": "string",
                    "enum": ["keyword", "subscribe", "scan", "click", "msgtype", "default"],
                }
            },
        },
        "reply": {"type": "object", "required": ["type"]},
        "replies": {"type": "array", "items": {"type": "object", "required": ["type"]}},
        "active_hours": {"type": "object"},
    },
}
SCHEMAS: dict[str, Any] = {
    "RuleInput": RULE_BODY,
    "Rule": {
        **RULE_BODY,
        "required": [*RULE_BODY["required"], "id"],
        "properties": {**RULE_BODY["properties"], "id": {"type": "string"}},
    },
    "RuleList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}}},
    },
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


RULE_OK = {"200": json_response("the rule", ref("Rule"))}
PATHS: dict[str, Any] = {
    "/api/tenants/{tenant_id}/rules": {
        "get": operation(
            "List rules, first wins",
            {"200": json_response("rules", ref("RuleList"))},
            params=[TENANT],
        ),
        "post": operation(
            "Create a rule",
            {"201": json_response("created", ref("Rule"))},
            body=ref("RuleInput"),
            params=[TENANT],
        ),
    },
    "/api/tenants/{tenant_id}/rules/{rule_id}": {
        "get": operation("Show a rule", RULE_OK, params=[TENANT, RULE_ID]),
        "put": operation(
            "Replace a rule", RULE_OK, body=ref("RuleInput"), params=[TENANT, RULE_ID]
        ),
        "patch": operation(
            "Change some fields of a rule (enable, disable, priority)",
            RULE_OK,
            body={"type": "object"},
            params=[TENANT, RULE_ID],
        ),
        "delete": operation(
            "Delete a rule", {"204": {"description": "deleted"}}, params=[TENANT, RULE_ID]
        ),
    },
    "/api/tenants/{tenant_id}/rules/reorder": {
        "post": operation(
            "Renumber priorities in the given order",
            {"200": json_response("rules", ref("RuleList"))},
            body={
                "type": "object",
                "required": ["order"],
                "properties": {"order": {"type": "array", "items": {"type": "string"}}},
            },
            params=[TENANT],
        ),
    },
    "/api/tenants/{tenant_id}/rules/test": {
        "post": operation(
            "Dry run: which rule answers this message, and with what (nothing is sent)",
            {
                "200": json_response(
                    "the outcome",
                    {
                        "type": "object",
                        "required": ["rule", "reply"],
                        "properties": {
                            "rule": {"type": "object", "nullable": True},
                            "reply": {"type": "object", "nullable": True},
                        },
                    },
                )
            },
            body={
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "object"}},
            },
            params=[TENANT],
        ),
    },
}
