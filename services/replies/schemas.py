"""The JSON schemas of the rules API, built from the validator's own shapes so that the
document refuses nothing the service accepts (the fuzz test holds both to that)."""

from __future__ import annotations

from typing import Any

from services.replies.inbound import MESSAGE_FIELDS
from services.replies.inbox import FILTERS, MAX_NOTE, STATUSES
from services.replies.rules import (
    MATCH_MODES,
    MAX_PATTERN,
    MAX_PRIORITY,
    MAX_REPLIES,
    MIN_PRIORITY,
    MSGTYPES,
)
from services.replies.validation import REPLIES, TRIGGERS
from shared.contracts.reply import MAX_ARTICLES, MAX_FIELD, MAX_TEXT

Schema = dict[str, Any]
URL = "^https?://"
HHMM = "^([01][0-9]|2[0-3]):[0-5][0-9]$"


def text(limit: int = MAX_FIELD, pattern: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "minLength": 1, "maxLength": limit}
    return schema if pattern is None else {**schema, "pattern": pattern}


def shape(tag: str, value: str, required: tuple[str, ...], fields: dict[str, Schema]) -> Schema:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [tag, *required],
        "properties": {tag: {"type": "string", "enum": [value]}, **fields},
    }


TRIGGER_FIELDS: dict[str, Schema] = {
    "match": {"type": "string", "enum": list(MATCH_MODES)},
    "pattern": text(MAX_PATTERN),
    "scene": text(),
    "key": text(),
    "msgtype": {"type": "string", "enum": list(MSGTYPES)},
}
ARTICLE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "url"],
    "properties": {
        "title": text(),
        "description": text(),
        "url": text(pattern=URL),
        "picurl": text(pattern=URL),
    },
}
REPLY_FIELDS: dict[str, Schema] = {
    "content": text(MAX_TEXT),
    "media_id": text(),
    "title": text(),
    "description": text(),
    "thumb_media_id": text(),
    "music_url": text(pattern=URL),
    "hq_music_url": text(pattern=URL),
    "articles": {"type": "array", "minItems": 1, "maxItems": MAX_ARTICLES, "items": ARTICLE},
}


def one_of(
    tag: str, shapes: dict[str, tuple[tuple[str, ...], tuple[str, ...]]], fields: dict[str, Schema]
) -> Schema:
    return {
        "oneOf": [
            shape(tag, kind, required, {k: fields[k] for k in (*required, *optional)})
            for kind, (required, optional) in shapes.items()
        ]
    }


REPLY = one_of("type", REPLIES, REPLY_FIELDS)
RULE_FIELDS: dict[str, Schema] = {
    "name": text(MAX_PATTERN),
    "priority": {"type": "integer", "minimum": MIN_PRIORITY, "maximum": MAX_PRIORITY},
    "enabled": {"type": "boolean"},
    "trigger": one_of("kind", TRIGGERS, TRIGGER_FIELDS),
    "reply": REPLY,
    "replies": {"type": "array", "minItems": 1, "maxItems": MAX_REPLIES, "items": REPLY},
    "active_hours": {
        "type": "object",
        "nullable": True,
        "additionalProperties": False,
        "required": ["start", "end"],
        "properties": {
            "start": {"type": "string", "pattern": HHMM},
            "end": {"type": "string", "pattern": HHMM},
            "days": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "integer", "minimum": 1, "maximum": 7},
            },
        },
    },
}
BOTH_FORMS: Schema = {"required": ["reply", "replies"]}
RULE_INPUT: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "priority", "enabled", "trigger"],
    "properties": {**RULE_FIELDS, "id": {"description": "ignored: the path names the rule"}},
    "oneOf": [{"required": ["reply"]}, {"required": ["replies"]}],
}
RULE_CHANGE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": RULE_INPUT["properties"],
    "not": BOTH_FORMS,
}
RULE: Schema = {
    **RULE_INPUT,
    "required": [*RULE_INPUT["required"], "id"],
    "properties": {**RULE_FIELDS, "id": {"type": "string"}},
}
NULLABLE_TIME: Schema = {"type": "string", "format": "date-time", "nullable": True}
NOTE: Schema = {"type": "string", "maxLength": MAX_NOTE, "nullable": True}
CALLER: Schema = {
    "type": "object",
    "nullable": True,
    "description": "the API key that acted: its scope, id and name",
    "properties": {
        "scope": {"type": "string", "enum": ["admin", "agency", "tenant"]},
        "key_id": {"type": "string"},
        "name": {"type": "string"},
    },
}
INBOX_ITEM: Schema = {
    "type": "object",
    "required": ["id", "openid", "type", "message", "status", "window_ends_at"],
    "properties": {
        "id": {"type": "string", "description": "the event id"},
        "openid": {"type": "string"},
        "type": {"type": "string", "description": "msg.text, msg.image, ..."},
        "message": {
            "type": "object",
            "description": "what the reader sent: content (text), media_id, url, ...",
        },
        "status": {"type": "string", "enum": list(STATUSES)},
        "occurred_at": NULLABLE_TIME,
        "received_at": NULLABLE_TIME,
        "window_ends_at": NULLABLE_TIME,
        "window_left_seconds": {"type": "integer", "minimum": 0},
        "answered_by": CALLER,
        "answered_at": NULLABLE_TIME,
        "reply": {"type": "object", "nullable": True},
        "note": NOTE,
        "error": {"type": "string", "nullable": True},
        "closed_by": CALLER,
        "closed_at": NULLABLE_TIME,
    },
}
INBOX_SCHEMAS: dict[str, Schema] = {
    "InboxItem": INBOX_ITEM,
    "InboxPage": {
        "type": "object",
        "required": ["items", "next_before"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/InboxItem"}},
            "next_before": {
                "type": "string",
                "nullable": True,
                "description": "pass as before= for the next page (null: the last page)",
            },
        },
    },
    "InboxReply": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reply"],
        "properties": {"reply": REPLY, "note": NOTE},
    },
    "InboxClose": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"note": NOTE},
    },
}
INBOX_FILTER: Schema = {"type": "string", "enum": list(FILTERS), "default": "open"}
SCHEMAS: dict[str, Schema] = {
    **INBOX_SCHEMAS,
    "RuleInput": RULE_INPUT,
    "RuleChange": RULE_CHANGE,
    "Rule": RULE,
    "RuleList": {
        "type": "object",
        "required": ["items", "skipped"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}},
            "skipped": {
                "description": "stored rules that no longer validate: they answer nothing",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "error"],
                    "properties": {"id": {"type": "string"}, "error": {"type": "string"}},
                },
            },
        },
    },
    "Reorder": {
        "type": "object",
        "required": ["order"],
        "properties": {
            "order": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}
        },
    },
    "DryRun": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {
                "type": "object",
                "additionalProperties": False,
                "properties": {key: {"type": "string"} for key in MESSAGE_FIELDS},
            }
        },
    },
}
