"""How commands answer: text and tables for people, JSON (``--json``) for scripts."""

from __future__ import annotations

import argparse
import json
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


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = [max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True))
        for r in rows
    ]
    return "\n".join(lines)
