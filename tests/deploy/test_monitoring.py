"""The monitoring component, checked offline: promtool checks the alert rules and runs
their unit tests, every alert fires in one test and stays quiet in another, every alert
has a runbook section, the PrometheusRule is the rules file, and every dashboard query is
PromQL that promtool accepts."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import yaml

from tests.deploy.monitoring_files import (
    DASHBOARDS,
    MONITORING,
    RULES,
    alert_rules,
    dashboard_files,
    dashboard_queries,
    load_yaml,
    panels,
    rule_test_files,
    run_promtool,
    runbook_sections,
)
from tests.support.infra import ROOT

SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_PATH = "deploy/k8s/RUNBOOK.md"


def test_promtool_checks_the_rules() -> None:
    checked = run_promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


def test_promtool_unit_tests_pass() -> None:
    files = rule_test_files()
    assert files, "no promtool tests in deploy/k8s/monitoring/rules/tests"
    tested = run_promtool("test", "rules", *map(str, files))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == len(files), tested.stdout


def test_every_alert_has_a_test_that_fires_it_and_one_that_does_not() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in rule_test_files():
        suite = load_yaml(path)
        assert suite["rule_files"] == ["../wxp.rules.yaml"], path.name
        for case in suite["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in alert_rules()}
    assert alerts, "no alerts in the rules file"
    assert alerts - fired == set(), "alerts no promtool test fires"
    assert alerts - quiet == set(), "alerts no promtool test keeps quiet"
    assert (fired | quiet) - alerts == set(), "promtool tests of alerts that do not exist"


def test_every_alert_has_a_severity_annotations_and_a_runbook_section() -> None:
    sections = runbook_sections()
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), "an alert name is used twice"
    for rule in alert_rules():
        name, annotations = rule["alert"], rule["annotations"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert annotations["summary"].strip(), name
        assert annotations["description"].strip(), name
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == RUNBOOK_PATH, name
        assert anchor in sections, f"{name}: RUNBOOK.md has no section #{anchor}"
        for part in ("**Means.**", "**Confirm.**", "**Do.**"):
            assert part in sections[anchor], f"RUNBOOK.md #{anchor} lacks {part}"
    alert_anchors = {rule["annotations"]["runbook_url"].partition("#")[2] for rule in alert_rules()}
    stale = {anchor for anchor in sections if anchor.startswith("wxp")} - alert_anchors
    assert not stale, f"RUNBOOK.md sections for alerts that do not exist: {stale}"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rules_generator", MONITORING / "prometheusrule.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_prometheusrule_is_the_rules_file() -> None:
    generator = _generator()
    written = (MONITORING / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert written == generator.render(RULES.read_text(encoding="utf-8")), (
        "prometheusrule.yaml is stale: run python deploy/k8s/monitoring/prometheusrule.py"
    )
    resource = yaml.safe_load(written)
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"] == load_yaml(RULES)


def test_the_generator_follows_an_edited_rules_file() -> None:
    edited = RULES.read_text(encoding="utf-8").replace("> 0.01", "> 0.02", 1)
    rendered = yaml.safe_load(_generator().render(edited))
    first = rendered["spec"]["groups"][0]["rules"][0]
    assert first["alert"] == "WxpWebhookErrors"
    assert "> 0.02" in first["expr"]


def test_dashboards_load_and_every_panel_queries_prometheus() -> None:
    files = dashboard_files()
    assert {path.stem for path in files} >= {
        "wxp-webhook",
        "wxp-replies",
        "wxp-queues",
        "wxp-broadcasts",
        "wxp-accounts",
    }
    uids = set()
    for path in files:
        board = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
        uids.add(board["uid"])
        assert board["title"], path.name
        assert "wxp" in board["tags"], path.name
        shown = panels(board)
        assert shown, f"{path.name} has no panels"
        for panel in shown:
            assert panel["datasource"]["uid"] == "${datasource}", (path.name, panel["title"])
            exprs = [target.get("expr", "").strip() for target in panel.get("targets", [])]
            assert exprs, f"{path.name}: {panel['title']} has no target"
            assert all(exprs), f"{path.name}: {panel['title']} has an empty query"
    assert len(uids) == len(files), "two dashboards share a uid"


def test_every_dashboard_query_passes_promtool(tmp_path: Path) -> None:
    queries = [query for path in dashboard_files() for query in dashboard_queries(path)]
    assert queries
    rules = [
        {"record": f"dashboard:query_{number}:check", "expr": query.expr}
        for number, query in enumerate(queries)
    ]
    checked_file = tmp_path / "dashboards.rules.yaml"
    checked_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    checked = run_promtool("check", "rules", str(checked_file))
    where = "\n".join(f"query_{n}: {query.where}" for n, query in enumerate(queries))
    assert checked.returncode == 0, f"{checked.stdout}{checked.stderr}\n{where}"
    assert f"SUCCESS: {len(queries)} rules found" in checked.stdout


def test_promtool_refuses_a_broken_query(tmp_path: Path) -> None:
    """The check above can fail: promtool does refuse bad PromQL."""
    broken = tmp_path / "broken.rules.yaml"
    rule = {"record": "x:y", "expr": "sum by (le (rate(x[5m]))"}
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [rule]}]}))
    assert run_promtool("check", "rules", str(broken)).returncode != 0


def test_the_component_ships_the_monitors_the_rule_and_every_dashboard() -> None:
    component = load_yaml(MONITORING / "kustomization.yaml")
    assert component["kind"] == "Component"
    assert set(component["resources"]) == {"servicemonitors.yaml", "prometheusrule.yaml"}
    (generator,) = component["configMapGenerator"]
    shipped = sorted(generator["files"])
    assert shipped == sorted(f"dashboards/{path.name}" for path in dashboard_files())
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}
    assert generator["options"]["disableNameSuffixHash"] is True
    assert all((MONITORING / name).is_file() for name in shipped)
    assert DASHBOARDS.is_dir()


def test_the_service_monitors_give_the_jobs_the_rules_select() -> None:
    monitors = {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all(
            (MONITORING / "servicemonitors.yaml").read_text(encoding="utf-8")
        )
    }
    services = monitors["wxp"]["spec"]
    assert services["jobLabel"] == "app.kubernetes.io/name"
    (selector,) = services["selector"]["matchExpressions"]
    assert selector["key"] == "app.kubernetes.io/name"
    assert selector["operator"] == "In"
    assert set(selector["values"]) == {"gateway", "replies", "scheduler", "analytics"}
    assert [(e["port"], e["path"]) for e in services["endpoints"]] == [("http", "/metrics")]
    rabbitmq = monitors["wxp-rabbitmq"]["spec"]
    assert rabbitmq["jobLabel"] == "app.kubernetes.io/component"
    assert rabbitmq["selector"]["matchLabels"] == {"app.kubernetes.io/component": "rabbitmq"}
    jobs = set(selector["values"]) | {"rabbitmq"}
    used = {
        job
        for rule in alert_rules()
        for match in re.findall(r'job=~?"([^"]+)"', rule["expr"])
        for job in match.split("|")
    }
    assert used, "the rules select no job"
    assert used <= jobs, f"rules select jobs no ServiceMonitor makes: {used - jobs}"


def test_every_service_the_monitor_selects_has_a_port_named_http() -> None:
    """The ServiceMonitor scrapes port "http" of the Services labelled with the four names;
    the manifests elsewhere under deploy/k8s must have them so."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "deploy" / "k8s").rglob("*.yaml")):
        if MONITORING in path.parents or "crds" in path.parts:
            continue  # the component itself; vendored CRDs (large, no Service)
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "Service":
                name = doc["metadata"].get("labels", {}).get("app.kubernetes.io/name")
                if name in {"gateway", "replies", "scheduler", "analytics"}:
                    ports = doc.get("spec", {}).get("ports", [])
                    found.setdefault(name, []).extend(port.get("name") for port in ports)
    assert set(found) == {"gateway", "replies", "scheduler", "analytics"}, found
    assert all("http" in ports for ports in found.values()), found
