"""The JSON schemas of the broadcasts API (OpenAPI 3.0), built from the validator's own
shapes, patterns and limits so that the document refuses nothing ``parse_broadcast``
accepts. ``schemas(limits)`` builds them for other limits; ``SCHEMAS`` uses the defaults."""

from __future__ import annotations

from typing import Any

from services.scheduler.spec import (
    AT,
    AUDIENCES,
    CRON,
    DATE,
    MAX_CRON,
    MAX_IMAGES,
    MAX_MEDIA_ID,
    MAX_TAG,
    MESSAGES,
    OPENID,
    Shape,
    SpecLimits,
)

Schema = dict[str, Any]
MAX_PREVIEW, MAX_PREVIEW_NAME, MAX_ARTICLE_IDX = 100, 64, 8
DEFAULT_LIMITS = SpecLimits()
STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": "string", "nullable": True}
NULLABLE_INT: Schema = {"type": "integer", "nullable": True}
COUNT: Schema = {"type": "integer", "minimum": 0}
SHOWN = ("id", "name", "message", "audience", "schedule", "status")
WARNING: Schema = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": STRING, "message": STRING},
}
RESULT: Schema = {  # the job-finish reports, summed over a run's batches
    "type": "object",
    "nullable": True,
    "required": ["status"],
    "properties": {
        "status": STRING,
        **dict.fromkeys(["total", "filter", "sent", "error"], NULLABLE_INT),
    },
}
BATCH: Schema = {
    "type": "object",
    "required": ["index", "clientmsgid"],
    "properties": {
        "index": COUNT,
        "clientmsgid": STRING,
        "size": NULLABLE_INT,
        "msg_id": NULLABLE_STRING,
        "msg_data_id": NULLABLE_STRING,
        "submitted_at": NULLABLE_STRING,
        "result": {"type": "object", "nullable": True},
    },
}
RUN: Schema = {
    "type": "object",
    "required": ["run_id", "due_at", "status"],
    "properties": {
        "run_id": {"type": "string", "pattern": "^r[0-9]{8}T[0-9]{6}Z$"},
        "due_at": STRING,
        "status": STRING,
        "clientmsgid": NULLABLE_STRING,
        "msg_id": NULLABLE_STRING,
        "msg_data_id": NULLABLE_STRING,
        "submitted_at": NULLABLE_STRING,
        "result": RESULT,
        "reason": NULLABLE_STRING,
        "tries": COUNT,
        "batches": {"type": "array", "items": BATCH},
        "over_limit": COUNT,
        "retracted": {"type": "array", "items": {"type": "object"}},
    },
}
QUOTA: Schema = {
    "type": "object",
    "required": ["account_type", "period", "used", "reserved", "limit", "next_allowed_at"],
    "properties": {
        "account_type": {"type": "string", "enum": ["subscription", "service"]},
        "period": STRING,
        "used": COUNT,
        "reserved": COUNT,
        "limit": {"type": "integer", "minimum": 1},
        "next_allowed_at": STRING,
    },
}


def text(limit: int) -> Schema:
    """A non-blank string (the validator refuses one of spaces only)."""
    return {"type": "string", "minLength": 1, "maxLength": limit, "pattern": "\\S"}


def matching(pattern: str, **more: Any) -> Schema:
    return {"type": "string", "pattern": f"^{pattern}$", **more}


def array(items: Schema, least: int, most: int) -> Schema:
    return {"type": "array", "minItems": least, "maxItems": most, "items": items}


def closed(required: list[str], fields: dict[str, Schema]) -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": False, "properties": fields}
    return {**schema, "required": required} if required else schema  # 3.0: no empty list


def one_of(tag: str, shapes: dict[str, Shape], fields: dict[str, Schema]) -> Schema:
    """One closed object per kind, told apart by the ``tag`` field's value."""
    return {
        "oneOf": [
            closed(
                [tag, *sorted(required)],
                {tag: {"type": "string", "enum": [kind]}}
                | {key: fields[key] for key in sorted(required | optional)},
            )
            for kind, (required, optional) in shapes.items()
        ]
    }


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def schemas(limits: SpecLimits = DEFAULT_LIMITS) -> dict[str, Schema]:
    media_id = text(MAX_MEDIA_ID)
    message = one_of(
        "type",
        MESSAGES,
        {
            "content": text(limits.max_text),
            "media_id": media_id,
            "media_ids": array(media_id, 1, MAX_IMAGES),
            "send_ignore_reprint": {"type": "boolean"},
        },
    )
    audience_fields = {
        "tag_id": {"type": "integer", "minimum": 0, "maximum": MAX_TAG},
        "openids": array(matching(OPENID, example="o_reader_1"), 2, limits.max_openids),
    }
    audience = one_of("kind", AUDIENCES, audience_fields)
    counted = {"kind": {"type": "string", "enum": ["openids"]}, "count": COUNT}
    shown = {"oneOf": [*audience["oneOf"], closed(["kind", "count"], counted)]}  # a list by size
    schedule: Schema = {
        "oneOf": [
            closed(["at"], {"at": matching(AT, example="2099-12-04T20:00")}),
            closed(
                ["cron"],
                {
                    "cron": matching(CRON, maxLength=MAX_CRON, example="0 20 * * 5"),
                    "until": matching(DATE, nullable=True, example="2099-12-31"),
                },
            ),
            closed(["best_on"], {"best_on": matching(DATE, example="2099-12-04")}),
        ]
    }
    create = closed(
        ["name", "message", "audience", "schedule"],
        {
            "name": text(limits.max_name),
            "message": message,
            "audience": audience,
            "schedule": schedule,
        },
    )
    return {
        "BroadcastCreate": create,
        "BroadcastCreated": {
            "type": "object",
            "required": ["id", "status", "next_run_at", "warnings"],
            "properties": {
                "id": STRING,
                "status": STRING,
                "next_run_at": NULLABLE_STRING,
                "warnings": {"type": "array", "items": WARNING},
            },
        },
        "Broadcast": broadcast(message, shown, schedule),
        "Run": RUN,
        "BroadcastList": {
            "type": "object",
            "required": ["broadcasts", "next_after"],
            "properties": {
                "broadcasts": {"type": "array", "items": ref("Broadcast")},
                "next_after": NULLABLE_STRING,
            },
        },
        "Quota": QUOTA,
        "Preview": {
            "oneOf": [
                closed([kind], {kind: array(text(MAX_PREVIEW_NAME), 1, MAX_PREVIEW)})
                for kind in ("openids", "wxnames")
            ]
        },
        "Retract": closed(
            [],
            {
                "article_idx": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_ARTICLE_IDX,
                    "default": 0,
                    "description": "which article (1-8) to delete; 0 deletes every one",
                }
            },
        ),
    }


def broadcast(message: Schema, audience: Schema, schedule: Schema) -> Schema:
    """A broadcast as the API shows it; ``runs`` when one broadcast is shown, or a list
    is asked for them (``?runs=true``)."""
    return {
        "type": "object",
        "required": [*SHOWN, "created_at", "next_run_at", "warnings"],
        "properties": {
            **dict.fromkeys(["id", "name", "status"], STRING),
            "message": message,
            "audience": audience,
            "schedule": schedule,
            "created_at": NULLABLE_STRING,
            "next_run_at": NULLABLE_STRING,
            "warnings": {"type": "array", "items": WARNING},
            "runs": {"type": "array", "items": ref("Run")},
        },
    }


SCHEMAS: dict[str, Schema] = schemas()
