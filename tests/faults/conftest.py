"""The fault-injection run prints its one summary line at the end of the session, whether
it passed or not (pytest shows a passing test's output only with ``-s``)."""

from __future__ import annotations

import pytest

SUMMARIES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in SUMMARIES:
        terminalreporter.write_line(line)
