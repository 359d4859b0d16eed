"""The bench's reading of the gateway's histograms: quantiles interpolated within buckets
as Prometheus does, the webhook route's alone, only what the timed run added."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from tests.bench.stages import (
    ANSWERS,
    TOGETHER,
    WEBHOOK_ROUTE,
    histograms,
    journey_note,
    mean_ms,
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


def test_answers_per_message_sums_the_replies_consumers_queues() -> None:
    registry = CollectorRegistry()
    histogram = Histogram(ANSWERS, "a", ["queue"], registry=registry, buckets=(1, 16, 256))
    histogram.labels("replies").observe(15)
    before = generate_latest(registry).decode()
    for size in (14, 16):
        histogram.labels("replies").observe(size)
    histogram.labels("replies.fallbacks").observe(1)
    after = generate_latest(registry).decode()

    note = together_note(before, after, ANSWERS, "answers")

    assert note == "answers per message: 10.3 (3 messages)"


def gateway_scrape(runs: int, *, handler: float, dedup: float, waited: float) -> str:
    """The gateway's three histograms after ``runs`` texts of these durations (seconds),
    and an API call that the journey must not count."""
    registry = CollectorRegistry()
    http = Histogram("wxp_http_request_duration_seconds", "h", ["route"], registry=registry)
    seen = Histogram("wxp_gateway_dedup_seconds", "d", registry=registry)
    wait = Histogram("wxp_gateway_reply_wait_seconds", "w", registry=registry)
    http.labels("/api/tenants").observe(9.0)
    for _ in range(runs):
        http.labels(WEBHOOK_ROUTE).observe(handler)
        seen.observe(dedup)
        wait.observe(waited)
    return generate_latest(registry).decode()


def replies_scrape(runs: int, *, taken: float, answered: float) -> str:
    registry = CollectorRegistry()
    lag = Histogram("wxp_consumer_lag_seconds", "l", ["queue"], registry=registry)
    latency = Histogram("wxp_replies_latency_seconds", "r", ["path"], registry=registry)
    latency.labels("customer_service").observe(60.0)  # not a passive reply: not counted
    for _ in range(runs):
        lag.labels("replies").observe(taken)
        latency.labels("passive").observe(answered)
    return generate_latest(registry).decode()


def test_the_journey_splits_the_clients_mean_into_hops_that_add_up() -> None:
    gateway = ("", gateway_scrape(4, handler=0.024, dedup=0.009, waited=0.023))
    replies = ("", replies_scrape(4, taken=0.014, answered=0.017))

    note = journey_note(gateway, replies, client_mean_ms=30.0)

    assert note == (
        "a text's 30.0 ms, means: dedup 9.0, on to replies 5.0, in replies 3.0, "
        "back to the gateway 6.0, the handler's rest 1.0, outside the handler 6.0"
    )


def test_a_mean_counts_only_what_the_run_added() -> None:
    registry = CollectorRegistry()
    seen = Histogram("wxp_gateway_dedup_seconds", "d", registry=registry)
    for _ in range(100):
        seen.observe(1.0)
    before = generate_latest(registry).decode()
    for _ in range(50):
        seen.observe(0.01)
    after = generate_latest(registry).decode()

    assert mean_ms((before, after), "wxp_gateway_dedup_seconds") == pytest.approx(10.0)
    assert mean_ms((before, before), "wxp_gateway_dedup_seconds") is None


def test_no_passive_replies_no_journey() -> None:
    gateway = ("", gateway_scrape(4, handler=0.024, dedup=0.009, waited=0.023))
    replies = ("", replies_scrape(0, taken=0.0, answered=0.0))

    assert journey_note(gateway, replies, client_mean_ms=30.0) is None
