"""Tenants as the gateway sees them: validating onboarding and changes. Pure.

``validate_new`` turns the JSON of ``POST /api/tenants`` into a :class:`NewTenant`,
``validate_changes`` the JSON of a ``PATCH`` into :class:`TenantChanges`; both raise
:class:`InvalidField` naming the first bad field, by the rules of ``fields.py``.
Missing ids and secrets are made up here, with randomness passed in for testability.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from services.gateway.fields import (
    CHANGEABLE,
    REGENERABLE,
    RULE,
    RULES,
    Choice,
    InvalidField,
    check,
)

__all__ = [
    "InvalidField",
    "NewTenant",
    "TenantChanges",
    "validate_changes",
    "validate_new",
]
REGENERATE = "regenerate"


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

    @property
    def secrets(self) -> dict[str, str]:
        """The values to seal at rest, by field."""
        return {rule.name: getattr(self, rule.name) for rule in RULES if rule.secret}


@dataclass(frozen=True, slots=True)
class TenantChanges:
    """A PATCH: the public fields and secrets to set (None: leave as is)."""

    fields: dict[str, str]
    secrets: dict[str, str]


def validate_new(data: dict[str, Any], choice: Choice = secrets.choice) -> NewTenant:
    unknown = sorted(set(data) - set(RULE))
    if unknown:
        raise InvalidField(unknown[0], f"unknown field {unknown[0]}")
    values: dict[str, str] = {}
    for rule in RULES:
        value = data.get(rule.name, rule.default)
        values[rule.name] = rule.make(choice) if value is None and rule.make else check(rule, value)
    return NewTenant(**values)


def validate_changes(data: dict[str, Any], choice: Choice = secrets.choice) -> TenantChanges:
    unknown = sorted(set(data) - {*CHANGEABLE, REGENERATE})
    if unknown:
        raise InvalidField(unknown[0], f"{unknown[0]} cannot be changed")
    if not data:
        raise InvalidField("body", "nothing to change")
    fields: dict[str, str] = {}
    changed: dict[str, str] = {}
    for name in CHANGEABLE:
        if name in data:
            rule = RULE[name]
            (changed if rule.secret else fields)[name] = check(rule, data[name])
    for name in _regenerate(data.get(REGENERATE, [])):
        if name in changed:
            raise InvalidField(name, f"{name} is both given and to be regenerated")
        changed[name] = REGENERABLE[name](choice)
    return TenantChanges(fields=fields, secrets=changed)


def _regenerate(value: object) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(name, str) and name in REGENERABLE for name in value
    ):
        raise InvalidField(REGENERATE, f"regenerate lists some of {', '.join(REGENERABLE)}")
    return value
