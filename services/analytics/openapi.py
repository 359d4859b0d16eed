"""Analytics' OpenAPI paths and schemas: stats, send time, health, the agency overview,
QR codes, the data cube backfill and the rebuild from the raw log."""

from __future__ import annotations

from typing import Any

from services.analytics.api import FORMATS, MAX_RANGE_DAYS
from shared.platform.openapi import json_response, operation, path_param

TENANT = path_param("tenant_id")
BASE = "/api/tenants/{tenant_id}"
DATE = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "example": "2026-12-01"}
FORMAT = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "csv: the same figures as text/csv (so does Accept: text/csv)",
    "schema": {"type": "string", "enum": list(FORMATS)},
}
RANGE = [
    {"name": "from", "in": "query", "required": False, "schema": DATE},
    {"name": "to", "in": "query", "required": False, "schema": DATE},
]
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
INT = {"type": "integer"}
RATE = {"type": "number", "nullable": True}
NULLABLE_INT = {"type": "integer", "nullable": True}
PRINTABLE = "[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]"  # what a scene may hold


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


WECHAT_REFUSED = {
    "description": "WeChat refused the call; the message has its errcode",
    "content": {"application/json": {"schema": ref("Error")}},
}


def closed(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(properties), "properties": properties}


SCHEMAS: dict[str, Any] = {
    "Day": closed(
        {
            "date": DATE,
            "new": INT,
            "lost": INT,
            "net": INT,
            "cumulative": NULLABLE_INT,
            "active_readers": INT,
            "messages": INT,
            "messages_by_type": COUNTS,
            "menu_clicks": COUNTS,
            "rule_replies": INT,
            "cs_replies": INT,
            "unanswered": INT,
        }
    ),
    "Daily": closed(
        {"timezone": {"type": "string"}, "days": {"type": "array", "items": ref("Day")}}
    ),
    "Activity": closed(
        {
            "followers_known": INT,
            "active_7d": INT,
            "active_30d": INT,
            "active_rate_7d": RATE,
            "active_rate_30d": RATE,
        }
    ),
    "Channels": closed(
        {
            "channels": {
                "type": "array",
                "items": closed(
                    {
                        "channel": {"type": "string"},
                        "new": INT,
                        "lost": INT,
                        "retained_7d_rate": RATE,
                        "active_30d_rate": RATE,
                    }
                ),
            }
        }
    ),
    "QrCodeInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["scene"],
        "properties": {
            "scene": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": f"^(?=.*\\S){PRINTABLE}+$",
                "description": "printable characters (no control, format or separator ones)",
            },
            "permanent": {"type": "boolean", "default": False},
            "expire_seconds": {
                "type": "integer",
                "minimum": 60,
                "maximum": 2_592_000,
                "default": 2_592_000,
            },
        },
    },
    "QrCode": {
        "type": "object",
        "required": ["scene", "permanent", "ticket", "url", "image_url", "expires_at"],
        "properties": {
            "scene": {"type": "string"},
            "permanent": {"type": "boolean"},
            "ticket": {"type": "string"},
            "url": {"type": "string", "nullable": True},
            "image_url": {"type": "string"},
            "expires_at": {"type": "string", "nullable": True},
            "new_30d": INT,
            "lost_30d": INT,
        },
    },
    "QrCodes": closed({"qrcodes": {"type": "array", "items": ref("QrCode")}}),
    "BackfillInput": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"days": {"type": "integer", "minimum": 1, "maximum": 180, "default": 30}},
    },
    "Backfill": closed(
        {
            "from": DATE,
            "to": DATE,
            "days": INT,
            "baseline": {
                "type": "object",
                "nullable": True,
                "properties": {"day": DATE, "value": INT},
            },
        }
    ),
    "RebuildInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["from"],
        "properties": {
            "from": {
                **DATE,
                "description": "the first tenant-local day to rebuild: not after today, and "
                "a day the raw log still keeps (WXP_ANALYTICS_RAW_DAYS, 35, up to today)",
            }
        },
    },
    "Rebuilt": closed(
        {
            "tenant_id": {"type": "string"},
            "from": DATE,
            "readers": {**INT, "description": "readers whose follow state was replaced"},
            "days_dropped": {**INT, "description": "finalized days deleted (the raw log has them)"},
            "impacts": {**INT, "description": "broadcast impacts measured again"},
        }
    ),
    "Impacts": closed(
        {
            "broadcasts": {
                "type": "array",
                "items": closed(
                    {
                        "broadcast_id": {"type": "string"},
                        "run_id": {"type": "string"},
                        "submitted_at": {"type": "string"},
                        "unfollows_24h": INT,
                        "baseline_24h": RATE,
                        "lift": RATE,
                    }
                ),
            }
        }
    ),
    "SendTime": closed(
        {
            "hour": {"type": "integer", "minimum": 0, "maximum": 23},
            "basis": {"type": "string", "enum": ["interactions", "default"]},
            "sample": INT,
            "timezone": {"type": "string"},
            "by_hour_of_week": {
                "type": "array",
                "minItems": 7,
                "maxItems": 7,
                "items": {"type": "array", "minItems": 24, "maxItems": 24, "items": INT},
            },
        }
    ),
    "Health": closed(
        {
            "status": {"type": "string", "enum": ["active", "declining", "dormant", "no_data"]},
            "last_interaction_at": {"type": "string", "nullable": True},
            "interactions_7d": INT,
            "interactions_prev_7d": INT,
        }
    ),
    "Overview": closed(
        {
            "tenants": {
                "type": "array",
                "items": closed(
                    {
                        "id": {"type": "string"},
                        "name": {"type": "string", "nullable": True},
                        "followers_known": INT,
                        "new_7d": INT,
                        "lost_7d": INT,
                        "active_rate_30d": RATE,
                        "status": {"type": "string"},
                    }
                ),
            }
        }
    ),
}


def csv_or(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    response = json_response(description, schema)
    response["content"]["text/csv"] = {"schema": {"type": "string"}}
    return response


def stats(summary: str, schema: str, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "get": operation(
            summary, {"200": csv_or(summary, ref(schema))}, params=[TENANT, *(params or []), FORMAT]
        )
    }


PATHS: dict[str, Any] = {
    BASE + "/stats/daily": stats(
        f"Followers, activity, messages and replies by tenant-local day "
        f"(at most {MAX_RANGE_DAYS} days; default the last 30)",
        "Daily",
        RANGE,
    ),
    BASE + "/stats/activity": stats(
        "Known followers and active readers (7 and 30 days)", "Activity"
    ),
    BASE + "/stats/channels": stats(
        "New, lost, 7-day retention and 30-day activity by QR channel", "Channels", RANGE
    ),
    BASE + "/qrcodes": {
        "post": operation(
            "Create a channel QR code through WeChat (scene: 1 to 64 characters)",
            {"201": json_response("the code", ref("QrCode")), "502": WECHAT_REFUSED},
            body=ref("QrCodeInput"),
            params=[TENANT],
        ),
        "get": operation(
            "The channel QR codes, each with its channel's last 30 days",
            {"200": csv_or("the codes", ref("QrCodes"))},
            params=[TENANT, FORMAT],
        ),
    },
    BASE + "/backfill": {
        "post": operation(
            "Read WeChat's data cube (7 days a call) and make its last day the baseline",
            {"200": json_response("what was read", ref("Backfill")), "502": WECHAT_REFUSED},
            body=ref("BackfillInput"),
            params=[TENANT],
        )
    },
    BASE + "/rebuild": {
        "post": operation(
            "Recompute readers, finalized days, broadcast impacts and the overview row from "
            "the raw log, from a day on (422 naming from when the raw log no longer has it)",
            {"200": json_response("what was recomputed", ref("Rebuilt"))},
            body=ref("RebuildInput"),
            params=[TENANT],
        )
    },
    BASE + "/stats/broadcasts": stats(
        "Unfollows in the 24 h after each broadcast, against the account's baseline", "Impacts"
    ),
    BASE + "/send-time": stats(
        "The recommended send hour and the 7×24 interaction grid (28 days)", "SendTime"
    ),
    BASE + "/health": stats("Account health: active, declining, dormant or no_data", "Health"),
    "/api/overview": {
        "get": operation(
            "Every account, worst health first (agency keys)",
            {"200": csv_or("the accounts", ref("Overview"))},
            params=[FORMAT],
        )
    },
}
