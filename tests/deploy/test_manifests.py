"""The Kubernetes manifests, rendered as a cluster would get them, hold to their schemas
and to the design's contracts. Offline: no cluster.

Each of ``deploy/k8s/base``, ``overlays/dev`` and ``overlays/prod`` is rendered by the
kustomize binary that ``deploy/local/install-k8s-tools.sh`` builds (``make test`` runs
it). Every built-in object is validated against the Kubernetes schemas that
kubernetes-validate ships (strict: an unknown field fails), every custom resource
against the openAPIV3Schema of its CRD vendored in ``deploy/k8s/crds`` (with unknown
fields refused, as the API server's strict field validation does), and an object of any
other kind fails. Then the contracts: what the services need to run (command, port,
probes, settings, a shutdown budget that covers their grace periods), what operators rely
on (no committed secret, nothing but /wx/ and /api/ exposed), and what each overlay
promises (dev: one replica and in-cluster RabbitMQ and MongoDB; prod: autoscalers,
disruption budgets, spread, network policies, the operators' engines).
"""

from __future__ import annotations

import base64
import copy
import functools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.contracts.topology import service_queues
from shared.platform.secretbox import SecretBox

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CRDS = K8S / "crds"
KUSTOMIZE = ROOT / "var" / "bin" / "kustomize"
KUBERNETES_VERSION = "1.29.0"  # the oldest Kubernetes these manifests are checked against

TARGETS = ("base", "overlays/dev", "overlays/prod")
PORTS = {"gateway": 8080, "replies": 8081, "scheduler": 8082, "analytics": 8083}
CONSUMERS = ("replies", "scheduler", "analytics")
SECRET_KEYS = {"AMQP_URL", "MONGODB_URL", "WXP_MASTER_KEY", "WXP_ADMIN_KEY"}
# The labels the operators put on the pods they create (from their sources).
RABBITMQ_POD = {"app.kubernetes.io/name": "wxp-rabbitmq", "app.kubernetes.io/component": "rabbitmq"}
MONGODB_POD = {"app": "wxp-mongodb-svc"}
INGRESS_NAMESPACE = "ingress-nginx"
Doc = dict[str, Any]


# -- rendering --------------------------------------------------------------------------


@functools.cache
def _render(target: str) -> tuple[Doc, ...]:
    if not KUSTOMIZE.is_file():
        pytest.fail(
            f"kustomize is missing at {KUSTOMIZE.relative_to(ROOT)}: run "
            "deploy/local/install-k8s-tools.sh (make test runs it)"
        )
    done = subprocess.run(
        [str(KUSTOMIZE), "build", str(K8S / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kustomize build {target} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def _docs(target: str) -> list[Doc]:
    return copy.deepcopy(list(_render(target)))


def _of_kind(target: str, kind: str) -> list[Doc]:
    return [doc for doc in _docs(target) if doc["kind"] == kind]


def _named(target: str, kind: str, name: str) -> Doc:
    found = [doc for doc in _of_kind(target, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{target}: expected one {kind} named {name}, found {len(found)}"
    return found[0]


def _pod(target: str, service: str) -> Doc:
    spec: Doc = _named(target, "Deployment", service)["spec"]["template"]["spec"]
    return spec


def _container(target: str, service: str) -> Doc:
    (container,) = _pod(target, service)["containers"]
    result: Doc = container
    return result


def _config(target: str) -> dict[str, str]:
    data: dict[str, str] = _named(target, "ConfigMap", "wxp-config")["data"]
    return data


def _port_number(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert numbers, f"no container port named {port!r}"
    return int(numbers[0])


def _selects(selector: Doc | None, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against labels; an
    empty selector selects everything, as in a NetworkPolicy."""
    selector = selector or {}
    if not all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        held = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }
        if not held[operator]:
            return False
    return True


def _pod_labels(target: str, service: str) -> dict[str, str]:
    labels: dict[str, str] = _named(target, "Deployment", service)["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


# -- schemas ----------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """An openAPIV3Schema made into a JSON Schema that refuses unknown fields (unless the
    CRD keeps them: x-kubernetes-preserve-unknown-fields) and takes null where nullable."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    if result.get("nullable") and isinstance(result.get("type"), str):
        result["type"] = [result["type"], "null"]
    return result


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], Doc]:
    """(apiVersion, kind) -> the strict schema of every vendored CRD's served versions."""
    schemas: dict[tuple[str, str], Doc] = {}
    for path in sorted(CRDS.glob("*.yaml")):
        (crd,) = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
        assert crd["kind"] == "CustomResourceDefinition", path.name
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = _strict(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def _crd_errors(doc: Doc) -> list[str]:
    schema = _crd_schemas()[(doc["apiVersion"], doc["kind"])]
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(doc)
    ]


def _is_custom(doc: Doc) -> bool:
    return (doc["apiVersion"], doc["kind"]) in _crd_schemas()


def _kubernetes_errors(doc: Doc) -> list[str]:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(map(str, error.path))}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {doc['apiVersion']} {doc['kind']}: an unknown kind"]
    return []


def _name(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("target", TARGETS)
def test_every_object_matches_its_schema(target: str) -> None:
    docs = _docs(target)
    assert docs
    errors = {
        _name(doc): (_crd_errors(doc) if _is_custom(doc) else _kubernetes_errors(doc))
        for doc in docs
    }
    assert not {name: found for name, found in errors.items() if found}
    assert len(errors) == len(docs), "two objects of one kind share a name"


def test_the_validators_reject_what_a_cluster_would() -> None:
    """The checks above can fail: a misspelt field, a wrong type and an unknown kind."""
    deployment = _named("base", "Deployment", "gateway")
    deployment["spec"]["template"]["spec"]["containers"][0]["comand"] = ["python"]
    assert _kubernetes_errors(deployment)
    cluster = _named("overlays/prod", "RabbitmqCluster", "wxp-rabbitmq")
    assert not _crd_errors(cluster)
    cluster["spec"]["replicas"] = "three"
    assert _crd_errors(cluster)
    cluster = _named("overlays/prod", "RabbitmqCluster", "wxp-rabbitmq")
    cluster["spec"]["persistence"]["storageSize"] = "20Gi"
    assert _crd_errors(cluster)
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert not _is_custom(unknown)
    assert _kubernetes_errors(unknown)


def test_prod_custom_resources_have_vendored_crds() -> None:
    kinds = {doc["kind"] for doc in _docs("overlays/prod") if _is_custom(doc)}
    expected = {"RabbitmqCluster", "MongoDBCommunity", "ScaledObject", "TriggerAuthentication"}
    assert expected | {"ServiceMonitor", "PrometheusRule"} <= kinds  # ../../monitoring
    assert not [doc for doc in _docs("base") + _docs("overlays/dev") if _is_custom(doc)]


# -- what every overlay keeps -----------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_every_namespaced_object_is_in_wxp_and_labelled(target: str) -> None:
    assert _named(target, "Namespace", "wxp")
    for doc in _docs(target):
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "wxp", _name(doc)
    for service in PORTS:
        assert _pod_labels(target, service)["app.kubernetes.io/part-of"] == "wxp"


@pytest.mark.parametrize("target", TARGETS)
def test_every_deployment_runs_one_of_the_services_from_one_image(target: str) -> None:
    deployments = _of_kind(target, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == set(PORTS)
    images = set()
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert "args" not in container
        images.add(container["image"])
    assert len(images) == 1, images


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("service", "port"), PORTS.items())
def test_deployment_and_service_expose_the_design_port(
    target: str, service: str, port: int
) -> None:
    container = _container(target, service)
    assert {"name": "http", "containerPort": port} in [
        {"name": p.get("name"), "containerPort": p["containerPort"]} for p in container["ports"]
    ]
    assert _config(target)[f"{service.upper()}_PORT"] == str(port)
    (service_port,) = _named(target, "Service", service)["spec"]["ports"]
    assert service_port["port"] == port
    assert _port_number(container, service_port["targetPort"]) == port
    template = _named(target, "Deployment", service)["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("service", "port"), PORTS.items())
def test_probes_use_the_health_routes(target: str, service: str, port: int) -> None:
    container = _container(target, service)
    expected = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == path, probe
        assert _port_number(container, http_get["port"]) == port, probe


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("service", PORTS)
def test_settings_come_from_the_configmap_and_the_secret(target: str, service: str) -> None:
    sources = _container(target, service)["envFrom"]
    assert {"name": "wxp-config"} in [s.get("configMapRef") for s in sources]
    (secret_name,) = [s["secretRef"]["name"] for s in sources if "secretRef" in s]
    if target == "overlays/dev":  # generated, with a hash suffix the Deployments follow
        assert set(_named(target, "Secret", secret_name)["data"]) == SECRET_KEYS
    else:
        assert secret_name == "wxp-secrets"
    # Service links would set GATEWAY_PORT=tcp://... and the like: our own variable names.
    assert _pod(target, service)["enableServiceLinks"] is False


@pytest.mark.parametrize("target", TARGETS)
def test_config_listens_on_all_interfaces_and_holds_no_secret(target: str) -> None:
    config = _config(target)
    assert config["WXP_HOST"] == "0.0.0.0"  # noqa: S104 - a pod must listen beyond loopback
    for name in ("WECHAT_API_BASE", "WXP_PUBLIC_URL", "LOG_LEVEL"):
        assert config[name], name
    assert not SECRET_KEYS & set(config)
    assert float(config["WXP_REPLY_DEADLINE_SECONDS"]) < 5  # WeChat gives up at 5 s


def _pre_stop_seconds(container: Doc) -> float:
    command = " ".join(
        container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    )
    return sum(float(s) for s in re.findall(r"sleep\(?\s*(\d+(?:\.\d+)?)", command))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("service", PORTS)
def test_termination_grace_outlasts_the_shutdown(target: str, service: str) -> None:
    # After the preStop delay, the HTTP drain and the consumer's stop each get the grace,
    # one after the other: Kubernetes must not SIGKILL before all three are done.
    grace = float(_config(target)["WXP_SHUTDOWN_GRACE_SECONDS"])
    pre_stop = _pre_stop_seconds(_container(target, service))
    assert pre_stop > 0
    assert _pod(target, service)["terminationGracePeriodSeconds"] > pre_stop + 2 * grace


def _quantity(value: str | int) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "").isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("service", PORTS)
def test_pods_run_unprivileged_with_bounded_resources(target: str, service: str) -> None:
    pod, container = _pod(target, service), _container(target, service)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # noqa: S108
    resources = container["resources"]
    for resource in ("cpu", "memory"):
        assert _quantity(resources["requests"][resource]) <= _quantity(
            resources["limits"][resource]
        ), resource


@pytest.mark.parametrize("target", TARGETS)
def test_every_service_selects_the_pods_of_one_deployment(target: str) -> None:
    deployments = _of_kind(target, "Deployment")
    for service in _of_kind(target, "Service"):
        pods = [
            d
            for d in deployments + _of_kind(target, "StatefulSet")
            if _selects({"matchLabels": service["spec"]["selector"]}, _labels_of_template(d))
            and _selects(d["spec"]["selector"], _labels_of_template(d))
        ]
        assert len(pods) == 1, _name(service)


def _labels_of_template(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.mark.parametrize("target", TARGETS)
def test_ingress_exposes_only_the_webhook_and_the_api(target: str) -> None:
    (ingress,) = _of_kind(target, "Ingress")
    paths = [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert {p["path"] for p in paths} == {"/wx/", "/api/", "/console/"}
    for path in paths:
        assert path["pathType"] == "Prefix"
        backend = path["backend"]["service"]
        assert backend["name"] == "gateway"
        port = backend["port"].get("name", backend["port"].get("number"))
        assert _port_number(_container(target, "gateway"), port) == 8080


# -- secrets ----------------------------------------------------------------------------


def _committed_yaml() -> Iterator[tuple[Path, Doc]]:
    for path in sorted(K8S.rglob("*.y*ml")):
        if CRDS not in path.parents:
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if isinstance(doc, dict):
                    yield path, doc


def test_no_secret_is_committed_and_base_and_prod_render_none() -> None:
    for path, doc in _committed_yaml():
        where = str(path.relative_to(K8S))
        assert doc.get("kind") != "Secret", f"{where} commits a Secret"
        assert not SECRET_KEYS & set(doc.get("data") or {}), where
    for target in ("base", "overlays/prod"):
        assert not _of_kind(target, "Secret"), target


def _dev_secret(name: str) -> dict[str, str]:
    (secret,) = [
        s for s in _of_kind("overlays/dev", "Secret") if s["metadata"]["name"].startswith(name)
    ]
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def test_dev_secrets_are_obviously_dev_and_usable() -> None:
    secrets = _dev_secret("wxp-secrets-")
    assert set(secrets) == SECRET_KEYS
    for key in ("AMQP_URL", "WXP_ADMIN_KEY"):
        assert "dev-only" in secrets[key], key
    assert b"dev-only" in base64.b64decode(secrets["WXP_MASTER_KEY"])
    SecretBox.from_setting(secrets["WXP_MASTER_KEY"])  # the services accept it
    assert "dev-only" in _dev_secret("rabbitmq-dev-")["RABBITMQ_DEFAULT_PASS"]


# -- dev --------------------------------------------------------------------------------


def test_dev_runs_one_replica_of_each_and_no_autoscaler() -> None:
    for deployment in _of_kind("overlays/dev", "Deployment"):
        assert deployment["spec"]["replicas"] == 1, _name(deployment)
    for kind in ("HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget"):
        assert not _of_kind("overlays/dev", kind), kind


def _headless_service_port(target: str, host: str, port: int, workload: Doc) -> None:
    service = _named(target, "Service", host)
    assert service["spec"].get("clusterIP") == "None"
    assert port in [p["port"] for p in service["spec"]["ports"]]
    assert _selects({"matchLabels": service["spec"]["selector"]}, _labels_of_template(workload))


def test_dev_rabbitmq_is_a_statefulset_the_amqp_url_reaches() -> None:
    rabbitmq = _named("overlays/dev", "StatefulSet", "rabbitmq")
    assert rabbitmq["spec"]["volumeClaimTemplates"]
    (container,) = rabbitmq["spec"]["template"]["spec"]["containers"]
    assert re.fullmatch(r"rabbitmq:3\.\d+(\.\d+)?-management", container["image"])
    url = urlsplit(_dev_secret("wxp-secrets-")["AMQP_URL"])
    _headless_service_port("overlays/dev", str(url.hostname), url.port or 5672, rabbitmq)
    first = _dev_secret("rabbitmq-dev-")
    assert (url.username, url.password, url.path.lstrip("/")) == (
        first["RABBITMQ_DEFAULT_USER"],
        first["RABBITMQ_DEFAULT_PASS"],
        first["RABBITMQ_DEFAULT_VHOST"],
    )
    env = {e["name"]: e["value"] for e in container["env"]}
    plugins_dir = str(Path(env["RABBITMQ_ENABLED_PLUGINS_FILE"]).parent)
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == plugins_dir]
    (volume,) = [
        v for v in rabbitmq["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    ]
    plugins = _named("overlays/dev", "ConfigMap", volume["configMap"]["name"])["data"]
    enabled = plugins[Path(env["RABBITMQ_ENABLED_PLUGINS_FILE"]).name]
    assert re.fullmatch(r"\[[a-z_,]+\]\.", enabled)
    assert "rabbitmq_prometheus" in enabled.strip("[].").split(",")


def test_dev_mongodb_is_a_single_node_replica_set_the_url_reaches() -> None:
    mongodb = _named("overlays/dev", "StatefulSet", "mongodb")
    assert mongodb["spec"]["volumeClaimTemplates"]
    (container,) = mongodb["spec"]["template"]["spec"]["containers"]
    assert re.fullmatch(r"mongo:(7|8)(\.\d+)*", container["image"])
    command = container["command"]
    replica_set = command[command.index("--replSet") + 1]
    url = urlsplit(_dev_secret("wxp-secrets-")["MONGODB_URL"])
    assert parse_qs(url.query)["replicaSet"] == [replica_set]
    # The member's name is the pod's stable name under the headless Service.
    host = str(url.hostname)
    pod, service = host.split(".")
    assert pod == f"{mongodb['metadata']['name']}-0"
    assert mongodb["spec"]["serviceName"] == service
    _headless_service_port("overlays/dev", service, url.port or 27017, mongodb)
    (job,) = _of_kind("overlays/dev", "Job")
    script = " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
    assert f'_id: "{replica_set}"' in script
    assert f'host: "{host}:{url.port or 27017}"' in script


# -- prod -------------------------------------------------------------------------------

PROD = "overlays/prod"


def _autoscaled(kind: str, name: str) -> Doc:
    found = [
        doc
        for doc in _of_kind(PROD, kind)
        if doc["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        and doc["spec"]["scaleTargetRef"]["name"] == name
    ]
    assert len(found) == 1, f"expected one {kind} for {name}, found {len(found)}"
    return found[0]


def test_prod_gateway_scales_on_cpu_from_two_pods() -> None:
    hpa = _autoscaled("HorizontalPodAutoscaler", "gateway")["spec"]
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    (metric,) = hpa["metrics"]
    assert (metric["type"], metric["resource"]["name"]) == ("Resource", "cpu")
    assert 0 < metric["resource"]["target"]["averageUtilization"] < 100
    # Utilization is relative to the request: without one the HPA cannot act.
    assert _quantity(_container(PROD, "gateway")["resources"]["requests"]["cpu"]) > 0


@pytest.mark.parametrize("service", CONSUMERS)
def test_prod_consumers_scale_on_their_own_queue(service: str) -> None:
    scaled = _autoscaled("ScaledObject", service)["spec"]
    assert _named(PROD, "Deployment", service)
    assert 2 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == service_queues()[service].name
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert int(trigger["metadata"]["value"]) > 0
    auth = _named(PROD, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    (host,) = [ref for ref in auth["spec"]["secretTargetRef"] if ref["parameter"] == "host"]
    assert (host["name"], host["key"]) == ("wxp-secrets", "AMQP_URL")


@pytest.mark.parametrize("service", PORTS)
def test_prod_replica_counts_belong_to_the_autoscalers(service: str) -> None:
    # A `replicas` field would be reset by every `kubectl apply`, undoing the scaling.
    assert "replicas" not in _named(PROD, "Deployment", service)["spec"]


def _minimum_replicas(service: str) -> int:
    if service == "gateway":
        return int(_autoscaled("HorizontalPodAutoscaler", service)["spec"]["minReplicas"])
    return int(_autoscaled("ScaledObject", service)["spec"]["minReplicaCount"])


@pytest.mark.parametrize("service", PORTS)
def test_prod_disruption_budget_keeps_a_pod_and_lets_drains_go_on(service: str) -> None:
    labels = _pod_labels(PROD, service)
    budgets = [
        b for b in _of_kind(PROD, "PodDisruptionBudget") if _selects(b["spec"]["selector"], labels)
    ]
    assert len(budgets) == 1
    (budget,) = budgets
    assert 1 <= budget["spec"]["minAvailable"] < _minimum_replicas(service)


@pytest.mark.parametrize("service", PORTS)
def test_prod_spreads_each_service_over_nodes(service: str) -> None:
    labels = _pod_labels(PROD, service)
    constraints = _pod(PROD, service)["topologySpreadConstraints"]
    by_key = {c["topologyKey"]: c for c in constraints}
    assert {"kubernetes.io/hostname", "topology.kubernetes.io/zone"} <= set(by_key)
    for constraint in constraints:
        assert _selects(constraint["labelSelector"], labels)
        # The spread counts this service's pods, not the namespace's: by its name label,
        # in the selector or taken from the pod (matchLabelKeys).
        names = (constraint["labelSelector"].get("matchLabels") or {}).get("app.kubernetes.io/name")
        assert names == service or "app.kubernetes.io/name" in constraint["matchLabelKeys"]
    assert by_key["kubernetes.io/hostname"]["maxSkew"] == 1


def _policies(direction: str, labels: dict[str, str]) -> list[Doc]:
    return [
        p
        for p in _of_kind(PROD, "NetworkPolicy")
        if direction in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], labels)
    ]


def test_prod_denies_all_traffic_by_default() -> None:
    deny = [
        p["spec"]
        for p in _of_kind(PROD, "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny


def _namespace_of(peer: Doc) -> str | None:
    return ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get(
        "kubernetes.io/metadata.name"
    )


def test_prod_gateway_takes_traffic_only_from_the_ingress_and_prometheus() -> None:
    labels = _pod_labels(PROD, "gateway")
    container = _container(PROD, "gateway")
    sources = set()
    for policy in _policies("Ingress", labels):
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{_name(policy)} lets anyone in"
            assert rule.get("ports"), f"{_name(policy)} opens every port"
            assert {_port_number(container, p["port"]) for p in rule["ports"]} == {8080}
            for peer in rule["from"]:
                assert "ipBlock" not in peer, _name(policy)
                assert _namespace_of(peer), _name(policy)
                sources.add(_namespace_of(peer))
    assert INGRESS_NAMESPACE in sources
    assert sources <= {INGRESS_NAMESPACE, "monitoring"}


@pytest.mark.parametrize("service", PORTS)
def test_prod_services_reach_only_the_broker_the_database_wechat_and_dns(service: str) -> None:
    ports = set()
    for policy in _policies("Egress", _pod_labels(PROD, service)):
        for rule in policy["spec"].get("egress", []):
            assert rule.get("ports"), f"{_name(policy)} opens every port"
            found = {(p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]}
            if found & CONSOLE_CALLS:  # the console's calls: to the three services only
                [peer] = rule["to"]
                assert set(peer) == {"podSelector"}, _name(policy)
                for other in ("replies", "scheduler", "analytics"):
                    assert _selects(peer["podSelector"], _pod_labels(PROD, other))
                assert not _selects(peer["podSelector"], _pod_labels(PROD, "gateway"))
            ports |= found
    expected = {("TCP", 5672), ("TCP", 5671), ("TCP", 27017), ("TCP", 443)}
    if service == "gateway":
        expected |= CONSOLE_CALLS
    assert ports == expected | {("UDP", 53), ("TCP", 53)}


CONSOLE_CALLS = {("TCP", 8081), ("TCP", 8082), ("TCP", 8083)}


def _allows_in(pod: dict[str, str], source: dict[str, str], port: int) -> bool:
    for policy in _policies("Ingress", pod):
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            peers = [p for p in rule.get("from", []) if "namespaceSelector" not in p]
            if (not ports or port in ports) and any(
                _selects(p.get("podSelector"), source) for p in peers
            ):
                return True
    return False


@pytest.mark.parametrize("service", PORTS)
def test_prod_engines_let_the_services_in(service: str) -> None:
    labels = _pod_labels(PROD, service)
    assert _allows_in(RABBITMQ_POD, labels, 5672)
    assert _allows_in(MONGODB_POD, labels, 27017)
    assert not _allows_in(RABBITMQ_POD, labels, 15672)  # the management API is not theirs


def test_prod_rabbitmq_cluster_has_three_nodes_quorum_queues_and_metrics() -> None:
    spec = _named(PROD, "RabbitmqCluster", "wxp-rabbitmq")["spec"]
    assert spec["replicas"] == 3
    assert "rabbitmq_prometheus" in spec["rabbitmq"]["additionalPlugins"]
    config = spec["rabbitmq"]["additionalConfig"]
    assert re.search(r"^default_queue_type\s*=\s*quorum$", config, re.MULTILINE)
    assert _quantity(spec["persistence"]["storage"]) > 0
    assert spec["resources"]["requests"]["memory"] == spec["resources"]["limits"]["memory"]
    assert _selects(
        _named(PROD, "PodDisruptionBudget", "wxp-rabbitmq")["spec"]["selector"], RABBITMQ_POD
    )


def test_prod_mongodb_is_a_three_member_replica_set_whose_user_can_manage_tenant_dbs() -> None:
    spec = _named(PROD, "MongoDBCommunity", "wxp-mongodb")["spec"]
    assert (spec["type"], spec["members"]) == ("ReplicaSet", 3)
    assert int(spec["version"].split(".")[0]) >= 7
    assert "SCRAM" in spec["security"]["authentication"]["modes"]
    (user,) = spec["users"]
    roles = {(role["name"], role["db"]) for role in user["roles"]}
    # One database per tenant, created on onboarding and dropped on offboarding.
    assert {("readWriteAnyDatabase", "admin"), ("dbAdminAnyDatabase", "admin")} <= roles
    assert _selects(
        _named(PROD, "PodDisruptionBudget", "wxp-mongodb")["spec"]["selector"], MONGODB_POD
    )


def test_the_old_flat_manifests_are_gone() -> None:
    assert not list(K8S.glob("*.yaml")), "manifests live in base/, overlays/ and engines/"
    assert not (ROOT / "tests" / "unit" / "test_k8s_manifests.py").exists()
