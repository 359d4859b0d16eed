"""OpenAPI documents: the parts every service shares, and serving them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared.contracts.tenancy import TENANT_ID_PATTERN

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "next_allowed_at": {"type": "string", "description": "quota_exhausted only"},
            },
        }
    },
}
STANDARD_ERRORS = {
    str(status): {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for status, text in (
        (400, "bad input"),
        (401, "no or invalid API key"),
        (403, "the key may not use this route"),
        (404, "no such resource (or not this key's tenant)"),
        (415, "send application/json"),
        (422, "a field is invalid; error.field names it"),
        (429, "rate limited; see Retry-After"),
    )
}


def operation(
    summary: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**responses, **STANDARD_ERRORS}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def path_param(name: str, pattern: str = TENANT_ID_PATTERN) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
    }


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document(
    title: str, paths: dict[str, Any], schemas: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR, **(schemas or {})},
        },
    }


def add_openapi_route(app: web.Application, doc: dict[str, Any]) -> None:
    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(doc)

    app.router.add_get("/api/openapi.json", openapi)
