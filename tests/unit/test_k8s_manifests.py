"""The Kubernetes manifests in deploy/k8s hold to the design's contracts.

No cluster: every YAML document of the files that kustomization.yaml lists is loaded
and checked for what the services need to run there (command, port, probes, settings,
a shutdown budget that covers the services' grace periods) and for what operators rely
on (no committed secret, two gateways at least, nothing but /wx/ and /api/ exposed).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
PORTS = {"gateway": 8080, "replies": 8081, "scheduler": 8082, "analytics": 8083}
SECRET_KEYS = {"AMQP_URL", "MONGODB_URL", "WXP_MASTER_KEY", "WXP_ADMIN_KEY"}
Doc = dict[str, Any]


def _load(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def _kustomization() -> Doc:
    return _load(K8S / "kustomization.yaml")[0]


def _documents() -> list[Doc]:
    return [doc for name in _kustomization()["resources"] for doc in _load(K8S / name)]


def _of_kind(kind: str) -> list[Doc]:
    return [doc for doc in _documents() if doc["kind"] == kind]


def _named(kind: str, name: str) -> Doc:
    found = [doc for doc in _of_kind(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} named {name}, found {len(found)}"
    return found[0]


def _pod(service: str) -> Doc:
    spec: Doc = _named("Deployment", service)["spec"]["template"]["spec"]
    return spec


def _container(service: str) -> Doc:
    containers = _pod(service)["containers"]
    assert len(containers) == 1
    container: Doc = containers[0]
    return container


def _port_number(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    assert numbers, f"no container port named {port!r}"
    return int(numbers[0])


def _config() -> dict[str, str]:
    data: dict[str, str] = _named("ConfigMap", "wxp-config")["data"]
    return data


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def test_every_listed_file_exists_and_parses() -> None:
    names = _kustomization()["resources"]
    assert names
    for name in names:
        assert (K8S / name).is_file(), f"kustomization.yaml lists missing {name}"
        assert _load(K8S / name), f"{name} holds no YAML document"


def test_kustomization_sets_namespace_label_and_overridable_image() -> None:
    kustomization = _kustomization()
    assert kustomization["namespace"] == "wxp"
    assert _named("Namespace", "wxp")
    assert any(
        entry["pairs"].get("app.kubernetes.io/part-of") == "wxp"
        for entry in kustomization["labels"]
    )
    image_names = {image["name"] for image in kustomization["images"]}
    for service in PORTS:
        assert _container(service)["image"] in image_names


def test_operator_crds_are_kept_out_of_the_kustomization() -> None:
    assert "monitoring.yaml" not in _kustomization()["resources"]
    assert not [doc for doc in _documents() if doc["apiVersion"].startswith("monitoring.")]
    monitors = [doc for doc in _load(K8S / "monitoring.yaml") if doc["kind"] == "ServiceMonitor"]
    assert monitors
    assert all(e["path"] == "/metrics" for m in monitors for e in m["spec"]["endpoints"])


@pytest.mark.parametrize("service", PORTS)
def test_deployment_runs_its_service(service: str) -> None:
    container = _container(service)
    assert container["command"] == ["python", "-m", f"services.{service}"]
    assert "args" not in container


@pytest.mark.parametrize(("service", "port"), PORTS.items())
def test_deployment_and_service_expose_the_design_port(service: str, port: int) -> None:
    container = _container(service)
    assert {"name": "http", "containerPort": port} in [
        {"name": p.get("name"), "containerPort": p["containerPort"]} for p in container["ports"]
    ]
    assert _config()[f"{service.upper()}_PORT"] == str(port)
    (service_port,) = _named("Service", service)["spec"]["ports"]
    assert service_port["port"] == port
    assert _port_number(container, service_port["targetPort"]) == port
    annotations = _named("Deployment", service)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize(("service", "port"), PORTS.items())
def test_probes_use_the_health_routes_on_the_service_port(service: str, port: int) -> None:
    container = _container(service)
    expected = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == path, probe
        assert _port_number(container, http_get["port"]) == port, probe


@pytest.mark.parametrize("service", PORTS)
def test_settings_come_from_the_configmap_and_the_secret(service: str) -> None:
    sources = _container(service)["envFrom"]
    assert {"name": "wxp-config"} in [s.get("configMapRef") for s in sources]
    assert {"name": "wxp-secrets"} in [s.get("secretRef") for s in sources]
    # Service links would set GATEWAY_PORT=tcp://... and the like: our own variable names.
    assert _pod(service)["enableServiceLinks"] is False


def test_config_listens_on_all_interfaces_and_holds_no_secret() -> None:
    config = _config()
    assert config["WXP_HOST"] == "0.0.0.0"  # noqa: S104 - a pod must listen beyond loopback
    for name in ("WECHAT_API_BASE", "WXP_PUBLIC_URL", "LOG_LEVEL"):
        assert config[name], name
    assert not SECRET_KEYS & set(config)
    assert float(config["WXP_REPLY_DEADLINE_SECONDS"]) < 5  # WeChat gives up at 5 s


@pytest.mark.parametrize("service", PORTS)
def test_termination_grace_covers_the_shutdown(service: str) -> None:
    grace = float(_config()["WXP_SHUTDOWN_GRACE_SECONDS"])
    pod = _pod(service)
    termination = pod["terminationGracePeriodSeconds"]
    assert termination > grace
    # The HTTP drain and the consumer's stop each get the grace, one after the other,
    # after the preStop delay: Kubernetes must not SIGKILL before all three are done.
    pre_stop = _container(service).get("lifecycle", {}).get("preStop", {})
    command = " ".join(pre_stop.get("exec", {}).get("command", []))
    delays = [float(s) for s in re.findall(r"sleep\(?\s*(\d+(?:\.\d+)?)", command)]
    assert termination >= sum(delays) + 2 * grace


@pytest.mark.parametrize("service", PORTS)
def test_pods_run_unprivileged_with_bounded_resources(service: str) -> None:
    pod = _pod(service)
    container = _container(service)
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind


def test_no_secret_is_committed() -> None:
    for path in sorted(K8S.glob("*.y*ml")):
        for doc in _load(path):
            assert doc.get("kind") != "Secret", f"{path.name} commits a Secret"
            assert not SECRET_KEYS & set(doc.get("data") or {}), path.name


def test_gateway_always_runs_at_least_two_replicas() -> None:
    deployment = _named("Deployment", "gateway")
    autoscalers = [
        hpa
        for hpa in _of_kind("HorizontalPodAutoscaler")
        if (hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"])
        == ("Deployment", "gateway")
    ]
    if "replicas" in deployment["spec"]:
        assert deployment["spec"]["replicas"] >= 2
    else:
        assert autoscalers, "without an HPA, the gateway Deployment must set replicas"
    for hpa in autoscalers:
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("service", ["gateway", "replies"])
def test_disruption_budget_keeps_one_pod(service: str) -> None:
    budget = _named("PodDisruptionBudget", service)["spec"]
    assert budget["minAvailable"] >= 1
    labels = _named("Deployment", service)["spec"]["template"]["metadata"]["labels"]
    assert _selects(budget["selector"]["matchLabels"], labels)


def test_analytics_never_runs_two_counter_writers() -> None:
    spec = _named("Deployment", "analytics")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"


def test_ingress_exposes_only_the_webhook_and_the_api() -> None:
    (ingress,) = _of_kind("Ingress")
    paths = [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert {p["path"] for p in paths} == {"/wx/", "/api/"}
    for path in paths:
        assert not any(word in path["path"] for word in ("metrics", "healthz", "readyz"))
        assert path["pathType"] == "Prefix"
        backend = path["backend"]["service"]
        assert backend["name"] == "gateway"
        port = backend["port"].get("name", backend["port"].get("number"))
        assert _port_number(_container("gateway"), port) == 8080


def test_every_service_selects_pods_a_deployment_labels() -> None:
    services = _of_kind("Service")
    assert {s["metadata"]["name"] for s in services} >= set(PORTS)
    deployments = _of_kind("Deployment")
    for service in services:
        selector = service["spec"]["selector"]
        matches = [
            d
            for d in deployments
            if _selects(selector, d["spec"]["template"]["metadata"]["labels"])
            and _selects(
                d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"]
            )
        ]
        assert len(matches) == 1, service["metadata"]["name"]
