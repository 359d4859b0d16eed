"""The replies service's OpenAPI paths: rules, the dry run, and the reader inbox."""

from __future__ import annotations

from typing import Any

from services.replies.inbox_api import EVENT_ID_PATTERN, MAX_LIMIT
from services.replies.schemas import INBOX_FILTER, SCHEMAS
from shared.platform.openapi import json_response, operation, path_param

__all__ = ["PATHS", "SCHEMAS"]

RULE_ID = path_param("rule_id", "^r[0-9a-f]{12}$")
TENANT = path_param("tenant_id")
EVENT_ID = path_param("event_id", EVENT_ID_PATTERN)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error(description: str) -> dict[str, Any]:
    return json_response(description, ref("Error"))


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


RULE_OK = {"200": json_response("the rule", ref("Rule"))}
ITEM_OK = {
    "200": json_response("the message as it is now", ref("InboxItem")),
    "409": error("already answered (or being answered), closed or failed"),
}
INBOX_PAGE = [
    TENANT,
    query("status", INBOX_FILTER, "which messages (open by default; all: every status)"),
    query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
        "at most this many",
    ),
    query("before", {"type": "string", "pattern": EVENT_ID_PATTERN}, "the page after this id"),
]
INBOX_PATHS: dict[str, Any] = {
    "/api/tenants/{tenant_id}/inbox": {
        "get": operation(
            "Readers' messages no rule answered, newest first, with their window left",
            {"200": json_response("a page", ref("InboxPage"))},
            params=INBOX_PAGE,
        ),
    },
    "/api/tenants/{tenant_id}/inbox/{event_id}/reply": {
        "post": operation(
            "Answer a message through the customer-service API, once, within its window",
            {
                **ITEM_OK,
                "502": error("WeChat's answer was lost: it may have arrived (status failed)"),
                "503": error("WeChat unreachable or rate-limited: nothing sent, try again"),
            },
            body=ref("InboxReply"),
            params=[TENANT, EVENT_ID],
        ),
    },
    "/api/tenants/{tenant_id}/inbox/{event_id}/close": {
        "post": operation(
            "Close a message without answering (closing a closed one changes nothing)",
            ITEM_OK,
            body=ref("InboxClose"),
            params=[TENANT, EVENT_ID],
        ),
    },
}
INBOX_PATHS["/api/tenants/{tenant_id}/inbox/{event_id}/close"]["post"]["requestBody"][
    "required"
] = False  # no body: no note
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
    **INBOX_PATHS,
}
