"""No dangling names: every series the alert rules and the dashboards select is one that the
running services or RabbitMQ's Prometheus plugin expose. The four services run as
processes over the real broker and database; RabbitMQ's plugin is scraped as the
ServiceMonitor scrapes it (its path and params) and on /metrics and /metrics/per-object.

A labelled family with no child yet prints only its # HELP and # TYPE lines; those count.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
import yaml
from aiohttp import ClientError, ClientSession
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.monitoring_files import SERVICE_MONITORS, all_queries, metric_names
from tests.support.gateway import wait_ready
from tests.support.processes import ServiceProcess, start_service

SERVICES = ("gateway", "replies", "scheduler", "analytics")
# Series Prometheus makes itself for every target rather than scraping them.
SYNTHETIC = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def rabbitmq_metrics_base() -> str:
    return os.environ.get("RABBITMQ_PROMETHEUS_URL", "http://127.0.0.1:15692")


def rabbitmq_paths() -> list[str]:
    """/metrics, /metrics/per-object, and every path the RabbitMQ ServiceMonitor scrapes."""
    monitor = next(
        doc
        for doc in yaml.safe_load_all(SERVICE_MONITORS.read_text(encoding="utf-8"))
        if doc["metadata"]["name"] == "wxp-rabbitmq"
    )
    paths = ["/metrics", "/metrics/per-object"]
    for endpoint in monitor["spec"]["endpoints"]:
        params = endpoint.get("params", {})
        query = urlencode([(key, value) for key, values in params.items() for value in values])
        paths.append(endpoint["path"] + (f"?{query}" if query else ""))
    return paths


def exposed_names(text: str) -> set[str]:
    """Sample names and the names of # HELP / # TYPE lines in a Prometheus text scrape."""
    names = set()
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def is_exposed(name: str, exposed: set[str]) -> bool:
    if name in exposed:
        return True
    family = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
    return family is not None and family in exposed


async def scrape(http: ClientSession, url: str) -> str:
    try:
        async with http.get(url) as response:
            assert response.status == 200, f"{url}: {response.status}"
            return await response.text()
    except ClientError as exc:
        pytest.fail(
            f"cannot scrape {url} ({exc}): the local RabbitMQ serves its Prometheus plugin "
            "once deploy/local/start-infra.sh has run (make test does; or run "
            "deploy/local/rabbitmq.sh prometheus); for another broker set "
            "RABBITMQ_PROMETHEUS_URL to its plugin's base URL"
        )


@pytest.fixture(scope="module")
async def scrapes(infra: None, queue_prefix: str) -> AsyncIterator[dict[str, str]]:
    """Each service's /metrics and each RabbitMQ plugin endpoint, by where it came from."""
    started: list[ServiceProcess] = []
    try:
        for name in SERVICES:
            started.append(
                start_service(
                    name,
                    queue_prefix=queue_prefix,
                    admin_key="metric-names-admin-key",
                    WECHAT_API_BASE="http://127.0.0.1:9",  # nothing here calls WeChat
                )
            )
        async with ClientSession() as http:
            await asyncio.gather(*(_ready(http, service) for service in started))
            texts = {
                service.name: await scrape(http, f"{service.url}/metrics") for service in started
            }
            base = rabbitmq_metrics_base()
            for path in rabbitmq_paths():
                texts[f"rabbitmq {path}"] = await scrape(http, base + path)
        yield texts
    finally:
        for service in started:
            service.terminate()


async def _ready(http: ClientSession, service: ServiceProcess) -> None:
    try:
        await wait_ready(http, service.url)
    except AssertionError:
        raise AssertionError(f"{service.name} not ready; its log:\n{service.log()}") from None


def test_metric_names_finds_series_not_functions_labels_or_keywords() -> None:
    expr = (
        'sum by (route, le) (rate(wxp_a_total{job="gateway",route="/wx/{tenant_id}"}[5m]))\n'
        "  / ignoring (reason) group_left\n"
        '  max(wxp_b{status=~"5.."} offset 1d) > 0.5e3 and on () absent(up{job="x"})'
        " or histogram_quantile(0.99, sum by (le) (rate(wxp_c_bucket[$__rate_interval])))"
    )
    assert metric_names(expr) == {"wxp_a_total", "wxp_b", "up", "wxp_c_bucket"}


def test_a_histogram_counts_by_its_family() -> None:
    exposed = exposed_names(
        "# HELP wxp_h_seconds x\n# TYPE wxp_h_seconds histogram\n"
        '# HELP wxp_c_total y\n# TYPE wxp_c_total counter\nwxp_g{a="b"} 1.0\n'
    )
    assert is_exposed("wxp_h_seconds_bucket", exposed)
    assert is_exposed("wxp_c_total", exposed)
    assert is_exposed("wxp_g", exposed)
    assert not is_exposed("wxp_missing_bucket", exposed)
    assert not is_exposed("wxp_h_seconds_total", exposed)


def test_every_series_in_the_rules_and_dashboards_is_exposed(scrapes: dict[str, str]) -> None:
    exposed = set().union(*(exposed_names(text) for text in scrapes.values()))
    for source, text in scrapes.items():
        assert exposed_names(text), f"{source} exposed nothing"
    used: dict[str, list[str]] = {}
    for query in all_queries():
        for name in metric_names(query.expr):
            used.setdefault(name, []).append(query.where)
    assert len(used) > 20, sorted(used)  # the parse found the queries' series
    dangling = {
        name: where
        for name, where in sorted(used.items())
        if name not in SYNTHETIC and not is_exposed(name, exposed)
    }
    assert not dangling, "series no service or RabbitMQ exposes:\n" + "\n".join(
        f"  {name}: {', '.join(where)}" for name, where in dangling.items()
    )


def test_the_rabbitmq_monitor_gets_the_per_queue_series(scrapes: dict[str, str]) -> None:
    """The ServiceMonitor's own path and params give what the queue alerts read."""
    detailed = next(text for source, text in scrapes.items() if "/metrics/detailed" in source)
    names = exposed_names(detailed)
    for family in (
        "rabbitmq_detailed_queue_messages",
        "rabbitmq_detailed_queue_messages_ready",
        "rabbitmq_detailed_queue_consumers",
    ):
        assert family in names, f"{family} not in the ServiceMonitor's scrape"
    child = re.compile(r'^rabbitmq_detailed_queue_messages_ready\{vhost="[^"]*",queue="', re.M)
    assert child.search(detailed), "no queue in the ServiceMonitor's scrape"


def test_every_service_froze_its_start_up_heap(scrapes: dict[str, str]) -> None:
    """Each process ran serve()'s freeze, and shows the collector's pauses by generation."""
    for name in SERVICES:
        samples = {
            (sample.name, sample.labels.get("generation", "")): sample.value
            for family in text_string_to_metric_families(scrapes[name])
            for sample in family.samples
        }
        assert samples.get(("wxp_gc_frozen_objects", ""), 0) > 10_000, f"{name} froze nothing"
        for generation in ("0", "1", "2"):
            assert ("wxp_gc_pause_seconds_count", generation) in samples, (name, generation)
        assert samples[("wxp_gc_pause_seconds_count", "2")] >= 1, f"{name}: no full collection"
