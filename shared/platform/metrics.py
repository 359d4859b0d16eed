"""Prometheus plumbing shared by the services: an explicit registry per app,
RED metrics for HTTP routes and for queue consumers. No tenant labels here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def new_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


class LabelCache:
    """Children of labelled metrics, looked up once per label values: ``labels()`` takes
    a lock and checks its arguments on every call, which a hot path pays per request."""

    __slots__ = ("_children",)

    def __init__(self) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def __call__(self, metric: M, *values: str) -> M:
        key = (id(metric), values)
        child: M | None = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    requests: Counter
    latency: Histogram
    child: LabelCache = field(default_factory=LabelCache)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> HttpMetrics:
        return cls(
            requests=Counter(
                "wxp_http_requests_total",
                "HTTP requests by route template, method and status",
                ["route", "method", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "wxp_http_request_duration_seconds",
                "HTTP request latency by route template",
                ["route"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
        )


@dataclass(frozen=True, slots=True)
class ConsumerMetrics:
    messages: Counter
    latency: Histogram
    dead_lettered: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ConsumerMetrics:
        return cls(
            messages=Counter(
                "wxp_consumer_messages_total",
                "Messages handled from a queue, by outcome "
                "(ack, requeue, dead_letter, dropped, ignored)",
                ["queue", "outcome"],
                registry=registry,
            ),
            latency=Histogram(
                "wxp_consumer_handle_duration_seconds",
                "Time to handle one message",
                ["queue"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            dead_lettered=Counter(
                "wxp_consumer_dead_lettered_total",
                "Messages sent to the dead-letter queue by the consumer, by reason "
                "(undecodable, tenant_mismatch, rejected)",
                ["queue", "reason"],
                registry=registry,
            ),
        )
