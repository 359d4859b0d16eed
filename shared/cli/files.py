"""Files the operator hands the CLI (``-``: stdin): read whole, or a :class:`CliError` that
names the file and what is wrong with it, on one line."""

from __future__ import annotations

import json
import sys
from typing import Any

from shared.cli.http import CliError


def read_text(source: str, what: str) -> str:
    """The UTF-8 text (a BOM is dropped) of ``source``; ``what`` names it in errors."""
    try:
        if source == "-":
            return sys.stdin.read()
        with open(source, encoding="utf-8-sig") as handle:
            return handle.read()
    except OSError as exc:
        raise CliError(f"cannot read {what} from {source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {what} from {source}: not UTF-8 text") from None


def read_json_object(source: str, what: str) -> dict[str, Any]:
    """The JSON object in ``source``."""
    text = read_text(source, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{what} {source} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise CliError(f"{what} {source} must be a JSON object {{...}}, not {json_kind(data)}")
    return data


def json_kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}
    return kinds.get(type(value), "a number")
