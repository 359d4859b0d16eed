"""The onboarding wizard: a form that creates a tenant through the gateway's own agency API,
the webhook URL, Token and EncodingAESKey shown once with the steps to paste them into
WeChat's console, then "test the connection": a fragment polled with htmx until the
gateway has recorded the account's first verified webhook (``connected_at``).

The secrets are rendered in the answer to the POST, never put in a URL or kept; a later
visit (``/tenants/{id}/connect``) shows the URL and the connection only. Agency keys
create; the connection pages are for any key that sees the tenant.

The shaping is pure (``request_of``, ``kept_of``, ``problem_of``, ``local_time``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from services.gateway.console.forms import submit
from services.gateway.console.onboarding_text import TEXT
from services.gateway.console.web import agency_only, call, form_of, render, tenant_of
from services.gateway.fields import RULE
from shared.contracts.tenancy import DEFAULT_TIMEZONE

__all__ = ["ROUTES", "TEXT"]

FIELDS = ("name", "appid", "app_secret", "account_type", "encrypt_mode", "timezone")
ACCOUNT_TYPES = RULE["account_type"].choices
MODES = ("safe", "compatible", "plain")  # as WeChat's console lists them, the advised first
DEFAULTS = {"account_type": "service", "encrypt_mode": "safe", "timezone": DEFAULT_TIMEZONE}


# Pure: the form's fields to the API's JSON, and the API's refusals to the form's words.


def request_of(form: Mapping[str, str]) -> dict[str, str]:
    """``POST /api/tenants``'s body: the form's fields as typed (the API validates them)."""
    body = {name: form.get(name, "").strip() for name in FIELDS}
    body["timezone"] = body["timezone"] or DEFAULT_TIMEZONE
    return body


def kept_of(form: Mapping[str, str]) -> dict[str, str]:
    """What the form shows again after a refusal: all that was typed but the app secret."""
    typed = {k: v for k, v in request_of(form).items() if v and k != "app_secret"}
    return {**DEFAULTS, **typed}


@dataclass(frozen=True, slots=True)
class Problem:
    """A refusal, next to its field (``field`` None: above the form)."""

    field: str | None
    message_id: str | None  # this console's words for it, when it has them
    detail: str  # the API's own message


def problem_of(status: int, field: str | None, message: str) -> Problem:
    if field == "appid" and status == 409:
        return Problem("appid", "onboarding.error.appid_taken", message)
    if field in FIELDS:
        return Problem(field, f"onboarding.error.{field}", message)
    return Problem(None, None, message)


def local_time(stamp: str, timezone: str) -> str:
    """An ISO instant as the account's local wall time, ``2026-05-01 12:00:03``."""
    instant = datetime.fromisoformat(stamp)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def connection_of(tenant: Mapping[str, Any]) -> dict[str, Any]:
    """The connection fragment's context: who, and when it connected (None: not yet)."""
    stamp = tenant.get("connected_at")
    timezone = str(tenant.get("timezone") or DEFAULT_TIMEZONE)
    return {
        "account": str(tenant["id"]),
        "connected": local_time(str(stamp), timezone) if stamp else None,
        "zone": timezone,
    }


# Handlers.


def _form(
    request: web.Request, kept: Mapping[str, str], problem: Problem | None, status: int = 200
) -> web.Response:
    context = {"kept": kept, "problem": problem, "types": ACCOUNT_TYPES, "modes": MODES}
    return render(request, "onboard_form.html", context, status=status)


async def form(request: web.Request) -> web.StreamResponse:
    agency_only(request)
    return _form(request, DEFAULTS, None)


async def create(request: web.Request) -> web.StreamResponse:
    agency_only(request)
    typed = await form_of(request)
    body = request_of(typed)
    tenant, refused = await submit(
        request, "POST", "gateway", "/api/tenants", json=body, refused=(409, 422)
    )
    if refused is not None:
        problem = problem_of(refused.status, refused.field, refused.message)
        return _form(request, kept_of(typed), problem, status=refused.status)
    context = {"tenant": tenant, "connection": connection_of(tenant)}
    return render(request, "onboard_secrets.html", context, status=201)


async def connect(request: web.Request) -> web.StreamResponse:
    """A later visit: the webhook URL and the connection, without the secrets."""
    tenant_id = tenant_of(request)
    tenant = await call(request, "GET", "gateway", f"/api/tenants/{tenant_id}")
    context = {"tenant": tenant, "connection": connection_of(tenant)}
    return render(request, "onboard_connect.html", context)


async def connection(request: web.Request) -> web.StreamResponse:
    """The fragment htmx polls; without ``hx-trigger`` once connected, so polling stops."""
    tenant_id = tenant_of(request)
    tenant = await call(request, "GET", "gateway", f"/api/tenants/{tenant_id}")
    return render(request, "onboard_connection.html", {"connection": connection_of(tenant)})


ROUTES: list[web.RouteDef] = [
    web.get("/onboard", form),
    web.post("/onboard", create),
    web.get("/tenants/{tenant_id}/connect", connect),
    web.get("/tenants/{tenant_id}/connection", connection),
]
