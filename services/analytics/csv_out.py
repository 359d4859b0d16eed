"""Rows of figures as RFC 4180 CSV (a header, CRLF line ends), safe to open in a
spreadsheet. Pure: the text is built in memory.

A listed column ``a.b`` that is not a key of the row reads key ``b`` of the mapping
``row["a"]`` (``messages_by_type.text``); a mapping or list left whole is written as JSON.
Menu keys and scenes come from the account's readers and setup, so a text cell (or header)
that a spreadsheet would run as a formula — one starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return — is prefixed with a single quote. Numbers are written as they
are: a net of ``-3`` stays a number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.contracts.envelope import iso

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_guard(column) for column in columns])
    for row in rows:
        writer.writerow([cell(_lookup(row, column)) for column in columns])
    return out.getvalue()


def cell(value: Any) -> str:
    """The text of one value: None empty, booleans and containers as JSON, text guarded."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return _json(dict(value))
    if isinstance(value, list | tuple):
        return _json(list(value))
    return _guard(str(value))


def _lookup(row: Mapping[str, Any], column: str) -> Any:
    if column in row:
        return row[column]
    parent, dot, key = column.partition(".")
    nested = row.get(parent) if dot else None
    return nested.get(key) if isinstance(nested, Mapping) else None


def _json(value: dict[str, Any] | list[Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _guard(text: str) -> str:
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
