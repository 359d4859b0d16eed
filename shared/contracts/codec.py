"""JSON values as they travel, and the checks that turn decoded JSON into typed fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

Json: TypeAlias = "str | int | float | bool | list[Json] | dict[str, Json] | None"
JsonObject: TypeAlias = dict[str, Json]


class DecodeError(ValueError):
    """JSON that does not have the contract's shape; the message names the field."""


def obj(value: object, where: str) -> Mapping[str, Json]:
    if not isinstance(value, dict):
        raise DecodeError(f"{where} must be an object")
    return value


def text(data: Mapping[str, Json], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise DecodeError(f"field {name!r} must be a string")
    return value


def optional_text(data: Mapping[str, Json], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DecodeError(f"field {name!r} must be a string")
    return value


def integer(data: Mapping[str, Json], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"field {name!r} must be an integer")
    return value


def number_or_none(data: Mapping[str, Json], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"field {name!r} must be a number")
    return float(value)
