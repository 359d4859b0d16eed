"""The gateway's OpenAPI document: the agency API as its routes really are."""

from __future__ import annotations

from typing import Any

from shared.openapi import document, json_response, operation, path_param

STR = {"type": "string"}
TENANT_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "account_type": {"type": "string", "enum": ["subscription", "service"]},
    "encrypt_mode": {"type": "string", "enum": ["plain", "compatible", "safe"]},
    "timezone": {"type": "string", "example": "Asia/Shanghai"},
    "token": {"type": "string", "pattern": "^[A-Za-z0-9]{3,32}$"},
    "encoding_aes_key": {"type": "string", "pattern": "^[A-Za-z0-9]{43}$"},
    "app_secret": {"type": "string", "minLength": 1, "maxLength": 128},
}
SCHEMAS: dict[str, Any] = {
    "TenantCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "appid", "app_secret", "account_type", "encrypt_mode"],
        "properties": {
            **TENANT_FIELDS,
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,40}$"},
            "appid": {"type": "string", "pattern": "^wx[0-9a-zA-Z]{16}$"},
        },
    },
    "TenantPatch": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            **TENANT_FIELDS,
            "regenerate": {
                "type": "array",
                "items": {"type": "string", "enum": ["token", "encoding_aes_key"]},
            },
        },
    },
    "Tenant": {
        "type": "object",
        "required": [
            "id",
            "name",
            "appid",
            "account_type",
            "encrypt_mode",
            "timezone",
            "webhook_url",
        ],
        "properties": {
            "id": STR,
            "name": STR,
            "appid": STR,
            "account_type": STR,
            "encrypt_mode": STR,
            "timezone": STR,
            "cluster": STR,
            "created_at": STR,
            "updated_at": STR,
            "webhook_url": STR,
            "token": {"type": "string", "description": "only when just created or rotated"},
            "encoding_aes_key": {
                "type": "string",
                "description": "only when just created or rotated",
            },
        },
    },
    "TenantPage": {
        "type": "object",
        "required": ["items", "next_after"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Tenant"}},
            "next_after": {"type": "string", "nullable": True},
        },
    },
    "KeyCreate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"name": {"type": "string", "maxLength": 100}},
    },
    "Key": {
        "type": "object",
        "required": ["id", "scope", "name", "created_at"],
        "properties": {
            "id": STR,
            "scope": {"type": "string", "enum": ["agency", "tenant"]},
            "tenant_id": {"type": "string", "nullable": True},
            "name": STR,
            "created_at": STR,
            "key": {"type": "string", "description": "only when just created"},
        },
    },
    "KeyList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}},
    },
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def gateway_openapi() -> dict[str, Any]:
    tenant = [path_param("tenant_id")]
    key = [*tenant, path_param("key_id", "^[0-9a-f]{12}$")]
    no_content = {"204": {"description": "done"}}
    paths = {
        "/api/tenants": {
            "post": operation(
                "Onboard an account (agency)",
                {
                    "201": json_response("onboarded; secrets shown once", ref("Tenant")),
                    "409": {"description": "id or appid taken"},
                },
                body=ref("TenantCreate"),
            ),
            "get": operation(
                "List accounts (agency)",
                {"200": json_response("a page", ref("TenantPage"))},
                params=[
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                    {"name": "after", "in": "query", "schema": STR},
                ],
            ),
        },
        "/api/tenants/{tenant_id}": {
            "get": operation(
                "Show an account", {"200": json_response("it", ref("Tenant"))}, params=tenant
            ),
            "patch": operation(
                "Change an account, rotate its secrets",
                {"200": json_response("changed", ref("Tenant"))},
                body=ref("TenantPatch"),
                params=tenant,
            ),
            "delete": operation(
                "Offboard an account and delete its data (agency)", no_content, params=tenant
            ),
        },
        "/api/tenants/{tenant_id}/keys": {
            "post": operation(
                "Create a key for this account only (agency)",
                {"201": json_response("the key, shown once", ref("Key"))},
                body=ref("KeyCreate"),
                params=tenant,
            ),
            "get": operation(
                "List the account's keys (agency)",
                {"200": json_response("keys", ref("KeyList"))},
                params=tenant,
            ),
        },
        "/api/tenants/{tenant_id}/keys/{key_id}": {
            "delete": operation("Revoke an account's key (agency)", no_content, params=key),
        },
        "/api/keys": {
            "post": operation(
                "Create an agency key (admin)",
                {"201": json_response("the key, shown once", ref("Key"))},
                body=ref("KeyCreate"),
            ),
            "get": operation(
                "List agency keys (admin)", {"200": json_response("keys", ref("KeyList"))}
            ),
        },
        "/api/keys/{key_id}": {
            "delete": operation(
                "Revoke an agency key (admin)",
                no_content,
                params=[path_param("key_id", "^[0-9a-f]{12}$")],
            ),
        },
    }
    return document("wxp gateway: agency API", paths, SCHEMAS)
