"""Reading one field of operator JSON, or an :class:`InvalidRule` naming it. Pure."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from services.replies.rules import InvalidRule
from shared.contracts.reply import MAX_FIELD


def keys_of(d: object, field: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise InvalidRule(field, "must be an object")
    for key in sorted(set(d) - required - optional):
        raise InvalidRule(at(field, key), "unknown field")
    for key in sorted(required - set(d)):
        raise InvalidRule(at(field, key), "required")
    return d


def string(d: dict[str, Any], key: str, field: str, limit: int = MAX_FIELD) -> str | None:
    value = d.get(key)
    if value is None and key not in d:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRule(at(field, key), f"a non-blank string of at most {limit} characters")
    return value


def http_url(d: dict[str, Any], key: str, field: str) -> str | None:
    value = string(d, key, field)
    if value is not None and not value.startswith(("https://", "http://")):
        raise InvalidRule(f"{field}.{key}", "an http(s) URL")
    return value


def at(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def choice(d: dict[str, Any], key: str, field: str, allowed: Collection[str]) -> Any:
    value = d.get(key)
    if not isinstance(value, str) or value not in allowed:
        raise InvalidRule(at(field, key), f"one of {', '.join(allowed)}")
    return value
