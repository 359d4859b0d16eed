"""Running ``wxp`` in-process as its console script would, for the CLI's unit tests:
its exit code and what it printed, with one stand-in server per test serving the API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from shared.cli import main


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    out: str
    err: str


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


async def wxp(capsys: pytest.CaptureFixture[str], *argv: str) -> Outcome:
    """``main`` in a thread (its HTTP calls block), while this loop serves the stand-in."""
    code = await asyncio.to_thread(_run, list(argv))
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def assert_one_error_line(outcome: Outcome, *parts: str) -> None:
    assert outcome.code == 1
    assert outcome.out == ""
    lines = outcome.err.splitlines()
    assert len(lines) == 1, outcome.err
    assert lines[0].startswith("wxp: ")
    for part in parts:
        assert part in lines[0]
