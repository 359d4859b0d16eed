"""Tenants as the gateway sees them: validating an onboarding request. Pure.

``validate_new`` turns the JSON of ``POST /api/tenants`` into a :class:`NewTenant`
or raises :class:`InvalidField` naming the first bad field. Missing token and
EncodingAESKey are generated here, with randomness passed in for testability.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.storage import TENANT_ID_RE

ACCOUNT_TYPES = ("subscription", "service")
ENCRYPT_MODES = ("plain", "compatible", "safe")
APPID_RE = re.compile(r"^wx[0-9a-zA-Z]{16}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9]{3,32}$")
AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")
ALNUM = string.ascii_letters + string.digits
FIELDS = {
    "id",
    "name",
    "appid",
    "app_secret",
    "account_type",
    "encrypt_mode",
    "token",
    "encoding_aes_key",
    "timezone",
}


class InvalidField(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class NewTenant:
    id: str
    name: str
    appid: str
    app_secret: str
    account_type: str
    encrypt_mode: str
    token: str
    encoding_aes_key: str
    timezone: str


def random_string(length: int, choice: Callable[[str], str] = secrets.choice) -> str:
    return "".join(choice(ALNUM) for _ in range(length))


def new_tenant_id(choice: Callable[[str], str] = secrets.choice) -> str:
    return "t" + "".join(choice(string.ascii_lowercase + string.digits) for _ in range(9))


def _string(
    data: dict[str, Any],
    name: str,
    pattern: re.Pattern[str] | None = None,
    *,
    max_len: int = 128,
    hint: str = "",
) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(name, f"{name} is required and must be a non-empty string")
    if len(value) > max_len or (pattern is not None and not pattern.fullmatch(value)):
        raise InvalidField(name, f"{name} is not valid{': ' + hint if hint else ''}")
    return value


def _choice(data: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in allowed:
        raise InvalidField(name, f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def _timezone(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidField("timezone", "timezone must be an IANA name such as Asia/Shanghai")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidField("timezone", f"unknown timezone {value!r}") from None
    return value


def validate_new(data: dict[str, Any], choice: Callable[[str], str] = secrets.choice) -> NewTenant:
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InvalidField(unknown[0], f"unknown field {unknown[0]}")
    tenant_id = (
        new_tenant_id(choice)
        if data.get("id") is None
        else _string(
            data, "id", TENANT_ID_RE, max_len=41, hint="2 to 41 characters of a-z, 0-9 and -"
        )
    )
    token = data.get("token")
    aes_key = data.get("encoding_aes_key")
    return NewTenant(
        id=tenant_id,
        name=_string(data, "name", max_len=100),
        appid=_string(data, "appid", APPID_RE, hint="wx followed by 16 letters or digits"),
        app_secret=_string(data, "app_secret", max_len=128),
        account_type=_choice(data, "account_type", ACCOUNT_TYPES),
        encrypt_mode=_choice(data, "encrypt_mode", ENCRYPT_MODES),
        token=random_string(32, choice)
        if token is None
        else _string(data, "token", TOKEN_RE, hint="3 to 32 letters or digits"),
        encoding_aes_key=random_string(43, choice)
        if aes_key is None
        else _string(data, "encoding_aes_key", AES_KEY_RE, hint="43 letters or digits"),
        timezone=_timezone(data.get("timezone", "Asia/Shanghai")),
    )


CHANGEABLE = {
    "name",
    "account_type",
    "encrypt_mode",
    "timezone",
    "token",
    "encoding_aes_key",
    "app_secret",
    "regenerate",
}
REGENERABLE = ("token", "encoding_aes_key")


@dataclass(frozen=True, slots=True)
class TenantChanges:
    """A PATCH: the public fields and secrets to set (None: leave as is)."""

    fields: dict[str, str]
    secrets: dict[str, str]


def validate_changes(
    data: dict[str, Any], choice: Callable[[str], str] = secrets.choice
) -> TenantChanges:
    unknown = sorted(set(data) - CHANGEABLE)
    if unknown:
        raise InvalidField(unknown[0], f"{unknown[0]} cannot be changed")
    if not data:
        raise InvalidField("body", "nothing to change")
    fields: dict[str, str] = {}
    if "name" in data:
        fields["name"] = _string(data, "name", max_len=100)
    if "account_type" in data:
        fields["account_type"] = _choice(data, "account_type", ACCOUNT_TYPES)
    if "encrypt_mode" in data:
        fields["encrypt_mode"] = _choice(data, "encrypt_mode", ENCRYPT_MODES)
    if "timezone" in data:
        fields["timezone"] = _timezone(data["timezone"])
    changed: dict[str, str] = {}
    if "token" in data:
        changed["token"] = _string(data, "token", TOKEN_RE, hint="3 to 32 letters or digits")
    if "encoding_aes_key" in data:
        changed["encoding_aes_key"] = _string(
            data, "encoding_aes_key", AES_KEY_RE, hint="43 letters or digits"
        )
    if "app_secret" in data:
        changed["app_secret"] = _string(data, "app_secret", max_len=128)
    regenerate = data.get("regenerate", [])
    if not isinstance(regenerate, list) or any(r not in REGENERABLE for r in regenerate):
        raise InvalidField("regenerate", f"regenerate lists some of {', '.join(REGENERABLE)}")
    for name in regenerate:
        if name in changed:
            raise InvalidField(name, f"{name} is both given and to be regenerated")
        changed[name] = random_string(32 if name == "token" else 43, choice)
    return TenantChanges(fields=fields, secrets=changed)
