"""The scheduler's OpenAPI paths: broadcasts, their runs, previews and the quota."""

from __future__ import annotations

from typing import Any

from services.scheduler.api import STATUSES
from services.scheduler.schemas import SCHEMAS
from shared.platform.openapi import json_response, operation, path_param

__all__ = ["PATHS", "SCHEMAS"]

TENANT = path_param("tenant_id")
BROADCAST_ID = path_param("broadcast_id", "^b[0-9a-f]{20}$")
RUN_ID = path_param("run_id", "^r[0-9]{8}T[0-9]{6}Z$")
BASE = "/api/tenants/{tenant_id}/broadcasts"
ONE = BASE + "/{broadcast_id}"
QUERY = [
    {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(STATUSES)},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
    {
        "name": "runs",
        "in": "query",
        "required": False,
        "description": "true: each broadcast with its runs (one query for the page)",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


CONFLICT = {"409": error("the broadcast's or run's state does not allow it; the message names it")}
TOO_LARGE = {"413": error("the body is over 48 MB")}


PATHS: dict[str, Any] = {
    BASE: {
        "get": operation(
            "List broadcasts, oldest first (page with `after`)",
            {"200": json_response("broadcasts", ref("BroadcastList"))},
            params=[TENANT, *QUERY],
        ),
        "post": operation(
            "Schedule a broadcast (422 naming the field, or the quota's next_allowed_at)",
            {"201": json_response("scheduled", ref("BroadcastCreated")), **TOO_LARGE},
            body=ref("BroadcastCreate"),
            params=[TENANT],
        ),
    },
    ONE: {
        "get": operation(
            "Show a broadcast with its runs",
            {"200": json_response("the broadcast", ref("Broadcast"))},
            params=[TENANT, BROADCAST_ID],
        ),
        "delete": operation(
            "Delete a broadcast that is still scheduled (409 otherwise)",
            {"204": {"description": "deleted"}, **CONFLICT},
            params=[TENANT, BROADCAST_ID],
        ),
    },
    ONE + "/cancel": {
        "post": operation(
            "Cancel a broadcast that has not started sending (409 otherwise)",
            {"200": json_response("cancelled", ref("Broadcast")), **CONFLICT},
            params=[TENANT, BROADCAST_ID],
        ),
    },
    ONE + "/preview": {
        "post": operation(
            "Send the message now to staff phones through WeChat's preview",
            {"200": json_response("one outcome per recipient", {"type": "object"})},
            body=ref("Preview"),
            params=[TENANT, BROADCAST_ID],
        ),
    },
    ONE + "/runs/{run_id}/retract": {
        "post": operation(
            "Delete a sent mpnews or mpvideo run from readers' history (WeChat's mass delete)",
            {
                "200": json_response("retracted", {"type": "object"}),
                **CONFLICT,
                "502": error("WeChat refused the mass delete; the message has its errcodes"),
            },
            body=ref("Retract"),
            params=[TENANT, BROADCAST_ID, RUN_ID],
        ),
    },
    "/api/tenants/{tenant_id}/quota": {
        "get": operation(
            "Broadcasts to all or a tag used and reserved in the current period",
            {"200": json_response("the quota", ref("Quota"))},
            params=[TENANT],
        ),
    },
}
