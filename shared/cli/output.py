"""How commands answer: text and tables for people, JSON (``--json``) for scripts."""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from shared.cli.http import Api

Command = Callable[[argparse.Namespace, Api], None]


def add_command(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    """A subcommand of ``group`` that runs ``func`` and takes ``--json``."""
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(func=func)
    return parser


def render(data: Any, *, as_json: bool, human: str) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) if as_json else human


def emit(data: Any, args: argparse.Namespace, human: str) -> None:
    print(render(data, as_json=args.json, human=human))


def blank(value: Any) -> Any:
    """A table cell for a value that may be missing."""
    return "" if value is None else value


UNSEEN = {"Cc", "Cs", "Zl", "Zp"}  # controls, lone surrogates, line and paragraph breaks


def cell(value: Any) -> str:
    """``value`` as one line of a table: a control character or a line break in a name
    (stored before the API refused them, say) is shown escaped, as ``\\n`` or ``\\x85``,
    and cannot break the row apart or move the cursor."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in UNSEEN else ch
        for ch in text
    )


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)) for row in cells
    ]
    return "\n".join(lines)
