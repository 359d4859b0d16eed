"""The bench's reading of the gateway's histograms: quantiles interpolated within buckets
as Prometheus does, the webhook route's alone, only what the timed run added."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from tests.bench.stages import (
    TOGETHER,
    WEBHOOK_ROUTE,
    histograms,
    quantile,
    stage_note,
    together_note,
)


def test_a_quantile_is_interpolated_within_its_bucket() -> None:
    buckets = {0.01: 10.0, 0.1: 90.0, 1.0: 100.0, math.inf: 100.0}
    assert quantile(0.05, buckets) == pytest.approx(0.005)
    assert quantile(0.5, buckets) == pytest.approx(0.01 + 0.09 * 0.5)
    assert quantile(0.99, buckets) == pytest.approx(0.1 + 0.9 * 0.9)


def test_past_the_last_bound_it_is_that_bound_and_nothing_gives_none() -> None:
    assert quantile(0.99, {0.01: 1.0, math.inf: 10.0}) == 0.01
    assert quantile(0.5, {0.01: 0.0, math.inf: 0.0}) is None
    assert quantile(0.5, {}) is None


def scrape(webhook: list[float], api: list[float], dedup: list[float]) -> str:
    registry = CollectorRegistry()
    http = Histogram(
        "wxp_http_request_duration_seconds",
        "h",
        ["route"],
        registry=registry,
        buckets=(0.01, 0.1),
    )
    seen = Histogram("wxp_gateway_dedup_seconds", "d", registry=registry, buckets=(0.01, 0.1))
    for value in webhook:
        http.labels(WEBHOOK_ROUTE).observe(value)
    for value in api:
        http.labels("/api/tenants").observe(value)
    for value in dedup:
        seen.observe(value)
    return generate_latest(registry).decode()


def test_the_note_reads_the_webhook_route_and_only_what_the_run_added() -> None:
    before = histograms(scrape(webhook=[0.5] * 100, api=[], dedup=[]))
    after = histograms(
        scrape(webhook=[0.5] * 100 + [0.005] * 50, api=[0.05] * 1000, dedup=[0.05] * 50)
    )

    assert after["wxp_http_request_duration_seconds"][0.01] == 50  # the API's not counted
    note = stage_note(before, after)

    assert note == "handler p50 5 / p99 10 ms; dedup p50 55 / p99 99 ms"


def test_no_samples_no_note() -> None:
    empty = histograms(scrape(webhook=[], api=[], dedup=[]))
    assert stage_note(empty, empty) is None


def together(sizes: list[int]) -> str:
    registry = CollectorRegistry()
    histogram = Histogram(TOGETHER, "t", registry=registry, buckets=(1, 2, 4, 8, 16))
    for size in sizes:
        histogram.observe(size)
    return generate_latest(registry).decode()


def test_events_per_message_counts_only_what_the_run_added() -> None:
    before, after = together([1] * 10), together([1] * 10 + [14, 16, 12])

    assert together_note(before, after) == "events per message: 14.0 (3 messages)"
    assert together_note(after, after) is None
    assert together_note("", "") is None
