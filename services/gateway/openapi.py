"""The gateway's OpenAPI document: the agency API as its routes really are (the
schemas are in ``schemas.py``)."""

from __future__ import annotations

from typing import Any

from services.gateway.schemas import STR, gateway_schemas, ref
from shared.platform.openapi import document, json_response, operation, path_param


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
                {
                    "200": json_response("changed", ref("Tenant")),
                    "409": {"description": "changed by others at the same moment; try again"},
                },
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
    return document("wxp gateway: agency API", paths, gateway_schemas())
