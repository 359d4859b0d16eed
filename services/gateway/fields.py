"""The tenant fields of the agency API, each rule written once. Pure.

:data:`RULES` is the one source: ``tenants.py`` checks requests with :func:`check`,
and ``schemas.py`` builds the OpenAPI ``TenantCreate`` and ``TenantPatch`` from
:func:`json_schema`, so the document and the validator cannot drift apart.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.contracts.tenancy import DEFAULT_TIMEZONE, TENANT_ID_HINT, TENANT_ID_RE

Choice = Callable[[str], str]  # picks one character of an alphabet (secrets.choice)
# A name people read in tables and pages: no control character, no line or paragraph break
# (Unicode's Cc, Zl and Zp), which would break a row apart or drive a terminal.
ONE_LINE = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]"
ONE_LINE_HINT = "on one line, without control characters"
ALNUM = string.ascii_letters + string.digits


class InvalidField(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def random_string(length: int, choice: Choice = secrets.choice) -> str:
    return "".join(choice(ALNUM) for _ in range(length))


def new_tenant_id(choice: Choice = secrets.choice) -> str:
    return "t" + "".join(choice(string.ascii_lowercase + string.digits) for _ in range(9))


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One field: a non-empty string matching ``pattern`` or at most ``max_length`` long,
    one of ``choices``, or (``zone``) an IANA timezone name."""

    name: str
    pattern: re.Pattern[str] | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    zone: bool = False
    hint: str = ""
    secret: bool = False  # sealed at rest; shown only when just set
    default: str | None = None  # taken on onboarding when the field is absent
    make: Callable[[Choice], str] | None = None  # made up on onboarding when absent or null


RULES = (  # in the order a request is checked: the first bad field is the one named
    FieldRule("id", TENANT_ID_RE, hint=TENANT_ID_HINT, make=new_tenant_id),
    FieldRule(
        "name",
        re.compile(f"^{ONE_LINE}+$"),
        max_length=100,
        hint=f"at most 100 characters {ONE_LINE_HINT}",
    ),
    FieldRule(
        "appid", re.compile(r"^wx[0-9a-zA-Z]{16}$"), hint="wx followed by 16 letters or digits"
    ),
    FieldRule("app_secret", max_length=128, secret=True),
    FieldRule("account_type", choices=("subscription", "service")),
    FieldRule("encrypt_mode", choices=("plain", "compatible", "safe")),
    FieldRule(
        "token",
        re.compile(r"^[A-Za-z0-9]{3,32}$"),
        hint="3 to 32 letters or digits",
        secret=True,
        make=lambda choice: random_string(32, choice),
    ),
    FieldRule(
        "encoding_aes_key",
        re.compile(r"^[A-Za-z0-9]{43}$"),
        hint="43 letters or digits",
        secret=True,
        make=lambda choice: random_string(43, choice),
    ),
    FieldRule("timezone", zone=True, default=DEFAULT_TIMEZONE),
)
RULE = {rule.name: rule for rule in RULES}
# What a PATCH may set, in the order it is checked: the public fields, then the secrets.
CHANGEABLE = (
    "name",
    "account_type",
    "encrypt_mode",
    "timezone",
    "token",
    "encoding_aes_key",
    "app_secret",
)
# The secrets made up on onboarding can be made up anew on request.
REGENERABLE = {rule.name: rule.make for rule in RULES if rule.secret and rule.make is not None}


def check(rule: FieldRule, value: object) -> str:
    """``value`` as the field's string, or :class:`InvalidField` saying what is wrong."""
    name = rule.name
    if rule.choices:
        if value not in rule.choices:
            raise InvalidField(name, f"{name} must be one of {', '.join(rule.choices)}")
        return str(value)
    if rule.zone:
        return _timezone(name, value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(name, f"{name} is required and must be a non-empty string")
    too_long = rule.max_length is not None and len(value) > rule.max_length
    if too_long or (rule.pattern is not None and not rule.pattern.fullmatch(value)):
        raise InvalidField(name, f"{name} is not valid{': ' + rule.hint if rule.hint else ''}")
    return value


def _timezone(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidField(name, f"{name} must be an IANA name such as {DEFAULT_TIMEZONE}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe", a long name
        raise InvalidField(name, f"unknown timezone {value!r}") from None
    return value


def json_schema(rule: FieldRule, *, onboarding: bool) -> dict[str, Any]:
    """The field's OpenAPI schema: in ``TenantCreate`` (``onboarding``) or ``TenantPatch``."""
    schema: dict[str, Any] = {"type": "string"}
    if rule.choices:
        schema["enum"] = list(rule.choices)
    elif rule.zone:
        schema["example"] = DEFAULT_TIMEZONE
    elif rule.pattern is not None:
        schema["pattern"] = rule.pattern.pattern
    else:
        schema["minLength"] = 1
    if rule.max_length is not None:
        schema["maxLength"] = rule.max_length
    if onboarding and rule.default is not None:
        schema["default"] = rule.default
    if onboarding and rule.make is not None:
        schema["nullable"] = True  # null, like absent: made up
    return schema


def required_on_onboarding() -> list[str]:
    return [rule.name for rule in RULES if rule.default is None and rule.make is None]
