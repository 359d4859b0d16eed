"""Writes prometheusrule.yaml: the alert rules of rules/wxp.rules.yaml (the file promtool
checks and unit-tests) as the Prometheus Operator's PrometheusRule, word for word.

    python deploy/k8s/monitoring/prometheusrule.py          # after editing the rules
    python deploy/k8s/monitoring/prometheusrule.py --check  # exit 1 when it is stale

tests/deploy/test_monitoring.py fails while the two differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules" / "wxp.rules.yaml"
TARGET = HERE / "prometheusrule.yaml"

HEADER = """\
# Generated from rules/wxp.rules.yaml by prometheusrule.py: edit that file, then run
#   python deploy/k8s/monitoring/prometheusrule.py
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: wxp
  labels:
    app.kubernetes.io/name: wxp
    app.kubernetes.io/component: monitoring
spec:
"""


def render(rules_text: str) -> str:
    """The PrometheusRule whose ``spec`` is the rules file (``groups:``), indented."""
    body = "".join(f"  {line}" if line.strip() else line for line in rules_text.splitlines(True))
    return HEADER + body


def main(argv: list[str]) -> int:
    rendered = render(RULES.read_text(encoding="utf-8"))
    if argv[1:] == ["--check"]:
        if TARGET.read_text(encoding="utf-8") != rendered:
            print(f"{TARGET.name} is stale: run python {Path(__file__).as_posix()}")
            return 1
        return 0
    TARGET.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
