"""The replies service's OpenAPI paths: rules and the dry run."""

from __future__ import annotations

from typing import Any

from services.replies.schemas import SCHEMAS
from shared.platform.openapi import json_response, operation, path_param

__all__ = ["PATHS", "SCHEMAS"]

RULE_ID = path_param("rule_id", "^r[0-9a-f]{12}$")
TENANT = path_param("tenant_id")


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
            body=ref("RuleChange"),
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
            body=ref("Reorder"),
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
            body=ref("DryRun"),
            params=[TENANT],
        ),
    },
}
