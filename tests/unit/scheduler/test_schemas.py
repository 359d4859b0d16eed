"""The OpenAPI schemas agree with the validator: every request it accepts is documented, and
what the spec and quota serialise matches the response schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from openapi_spec_validator import validate

from services.scheduler.quota import QuotaView
from services.scheduler.schemas import SCHEMAS, schemas
from services.scheduler.spec import InvalidBroadcast, SpecLimits
from tests.unit.scheduler.test_spec import VALID, body, parse


def as_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: ``nullable`` becomes a null type, refs are inlined."""
    if isinstance(schema, list):
        return [as_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return as_json_schema(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    converted = {key: as_json_schema(value) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable"):
        converted["type"] = [schema["type"], "null"]
    return converted


def valid(name: str, instance: object) -> bool:
    validator = jsonschema.Draft7Validator(as_json_schema(SCHEMAS[name]))
    return bool(validator.is_valid(instance))


@pytest.mark.parametrize("data", VALID)
def test_the_create_schema_accepts_every_valid_example(data: dict[str, Any]) -> None:
    assert valid("BroadcastCreate", data)


REFUSED_BY_BOTH = [
    body(extra=1),
    body(name=""),
    body(message={"type": "video", "media_id": "M"}),
    body(message={"type": "text", "content": "x" * 10_001}),
    body(message={"type": "voice", "media_id": "M", "send_ignore_reprint": False}),
    body(message={"type": "image", "media_ids": []}),
    body(audience={"kind": "tag", "tag_id": True}),
    body(audience={"kind": "tag", "tag_id": -1}),
    body(audience={"kind": "openids", "openids": ["oA"]}),
    body(audience={"kind": "openids", "openids": ["oA", "o B"]}),
    body(schedule={"at": "2026-12-04 20:00"}),
    body(schedule={"cron": "0 0 20 * * 5"}),
    body(schedule={"cron": "0\t20 * * 5"}),
    body(schedule={"at": "2026-12-04T20:00", "until": "2026-12-31"}),
    body(schedule={"at": "2026-12-04T20:00", "cron": "0 20 * * 5"}),
    body(schedule={}),
]


@pytest.mark.parametrize("data", REFUSED_BY_BOTH)
def test_what_the_schema_refuses_the_validator_refuses(data: dict[str, Any]) -> None:
    assert not valid("BroadcastCreate", data)
    with pytest.raises(InvalidBroadcast):
        parse(data)


def test_the_schemas_follow_the_limits() -> None:
    small = schemas(SpecLimits(max_text=5, max_openids=3, max_name=4))["BroadcastCreate"]
    fields = small["properties"]
    assert fields["name"]["maxLength"] == 4
    texts = [s for s in fields["message"]["oneOf"] if "content" in s["properties"]]
    assert texts[0]["properties"]["content"]["maxLength"] == 5
    lists = [s for s in fields["audience"]["oneOf"] if "openids" in s["properties"]]
    assert lists[0]["properties"]["openids"]["maxItems"] == 3


@pytest.mark.parametrize("data", VALID)
def test_a_shown_broadcast_matches_the_broadcast_schema(data: dict[str, Any]) -> None:
    spec = parse(data).to_json()
    shown = {
        "id": "b" + "0" * 20,
        **spec,
        "status": "scheduled",
        "created_at": "2026-12-01T04:00:00Z",
        "next_run_at": None,
        "warnings": [{"code": "busy_week", "message": "Busy."}],
        "runs": [
            {
                "run_id": "r20261204T120000Z",
                "due_at": "2026-12-04T12:00:00Z",
                "status": "finished",
                "clientmsgid": "wxp" + "0" * 60,
                "msg_id": "1000000001",
                "msg_data_id": None,
                "submitted_at": "2026-12-04T12:00:01Z",
                "result": {"status": "sent", "total": 10, "filter": 9, "sent": 9, "error": 0},
                "reason": None,
                "batches": [{"index": 0, "clientmsgid": "wxp0", "size": None, "result": None}],
            }
        ],
    }
    assert valid("Broadcast", shown)
    assert valid("BroadcastList", {"broadcasts": [shown], "next_after": None})
    if spec["audience"]["kind"] == "openids":
        counted = {**shown, "audience": {"kind": "openids", "count": 2}}
        assert valid("Broadcast", counted)


def test_the_quota_view_matches_its_schema() -> None:
    view = QuotaView("service", "2026-12", 1, 2, 4, datetime(2026, 12, 1, tzinfo=UTC))
    assert valid("Quota", view.to_json())


def test_preview_and_retract_requests() -> None:
    assert valid("Preview", {"openids": ["oA"]})
    assert valid("Preview", {"wxnames": ["staff_1", "staff_2"]})
    assert not valid("Preview", {"openids": []})
    assert not valid("Preview", {"openids": ["oA"], "wxnames": ["w"]})
    assert not valid("Preview", {"openids": ["o"] * 101})
    assert valid("Retract", {})
    assert valid("Retract", {"article_idx": 2})
    assert not valid("Retract", {"article_idx": -1})
    assert not valid("Retract", {"article_idx": 1, "all": True})


def test_the_schemas_are_valid_openapi_components() -> None:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "scheduler schemas", "version": "1"},
        "paths": {},
        "components": {"schemas": SCHEMAS},
    }
    validate(document)
