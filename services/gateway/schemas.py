"""The schemas of the gateway's OpenAPI document. What a request may send for a tenant
is generated from the rules the validator uses (``fields.py``)."""

from __future__ import annotations

from typing import Any

from services.gateway.fields import (
    CHANGEABLE,
    REGENERABLE,
    RULE,
    RULES,
    json_schema,
    required_on_onboarding,
)
from services.gateway.keys_api import KEY_NAME, KEY_NAME_MAX
from services.gateway.repository import PUBLIC_FIELDS

STR = {"type": "string"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def tenant_create() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required_on_onboarding(),
        "properties": {rule.name: json_schema(rule, onboarding=True) for rule in RULES},
    }


def tenant_patch() -> dict[str, Any]:
    fields = {name: json_schema(RULE[name], onboarding=False) for name in CHANGEABLE}
    regenerate = {"type": "string", "enum": list(REGENERABLE)}
    return {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            **fields,
            "regenerate": {"type": "array", "items": regenerate, "uniqueItems": True},
        },
    }


SHOWN = (*PUBLIC_FIELDS, "webhook_url")  # a tenant's public fields, as the API answers them
TENANT = {
    "type": "object",
    "required": ["id", "name", "appid", "account_type", "encrypt_mode", "timezone", "webhook_url"],
    "properties": {
        **dict.fromkeys(SHOWN, STR),
        "connected_at": {
            "type": "string",
            "nullable": True,
            "description": "when the first verified webhook arrived; null until then",
        },
        "version": {"type": "integer", "description": "one more at each change"},
        "token": {"type": "string", "description": "only when just created or rotated"},
        "encoding_aes_key": {"type": "string", "description": "only when just created or rotated"},
    },
}
KEY = {
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
}


def gateway_schemas() -> dict[str, Any]:
    return {
        "TenantCreate": tenant_create(),
        "TenantPatch": tenant_patch(),
        "Tenant": TENANT,
        "TenantPage": {
            "type": "object",
            "required": ["items", "next_after"],
            "properties": {
                "items": {"type": "array", "items": ref("Tenant")},
                "next_after": {"type": "string", "nullable": True},
            },
        },
        "KeyCreate": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "maxLength": KEY_NAME_MAX, "pattern": KEY_NAME.pattern}
            },
        },
        "Key": KEY,
        "KeyList": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": ref("Key")}},
        },
    }
