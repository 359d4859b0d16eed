"""The monitoring component's files as the tests read them: the alert rules, their promtool
tests, the runbook, the Grafana dashboards, and the metric names their PromQL uses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.infra import ROOT

MONITORING = ROOT / "deploy" / "k8s" / "monitoring"
RULES = MONITORING / "rules" / "wxp.rules.yaml"
RULE_TESTS = MONITORING / "rules" / "tests"
DASHBOARDS = MONITORING / "dashboards"
SERVICE_MONITORS = MONITORING / "servicemonitors.yaml"
RUNBOOK = ROOT / "deploy" / "k8s" / "RUNBOOK.md"

# What Grafana puts in for its built-in variables, for promtool's parser.
GRAFANA_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


def promtool() -> str:
    """promtool's path; fails (never skips) without it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run deploy/local/install-promtool.sh (make test does)")
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, check=False
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS.glob("*.yaml"))


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


@dataclass(frozen=True)
class Query:
    where: str  # file and panel, for messages
    expr: str  # as promtool reads it: Grafana's variables put in


def dashboard_queries(path: Path) -> list[Query]:
    board = json.loads(path.read_text(encoding="utf-8"))
    values = dict(GRAFANA_BUILTINS)
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "custom":
            values[variable["name"]] = variable["current"]["value"]
    return [
        Query(f"{path.name}: {panel['title']} ({target['refId']})", fill(target["expr"], values))
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but the rows (and the panels inside collapsed rows)."""
    found: list[dict[str, Any]] = []
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def fill(expr: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name not in values:
            raise AssertionError(f"dashboard variable ${name} has no value in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def all_queries() -> list[Query]:
    rules = [Query(f"{RULES.name}: {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    return rules + [query for path in dashboard_files() for query in dashboard_queries(path)]


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAMES = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "atan2", "inf", "nan", "Inf", "NaN"}
)


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects: identifiers outside strings, label
    matchers, ranges and grouping labels that are not followed by ``(`` (functions and
    aggregations) and are not keywords."""
    bare = _STRINGS.sub('""', expr)
    bare = _MATCHERS.sub("", bare)
    bare = _RANGES.sub("", bare)
    bare = _GROUPING.sub("", bare)
    return {name for name in _NAMES.findall(bare) if name not in _KEYWORDS}


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """Each ``## `` section of the runbook by its anchor, with its text."""
    sections: dict[str, str] = {}
    anchor = None
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            anchor = github_anchor(line[3:])
            sections[anchor] = ""
        elif anchor is not None:
            sections[anchor] += line + "\n"
    return sections
