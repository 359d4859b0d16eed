"""Prometheus plumbing shared by the services: an explicit registry per app,
RED metrics for HTTP routes and for queue consumers. No tenant labels here."""

from __future__ import annotations

import gc
import time
from bisect import bisect_left
from collections.abc import Iterator
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
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

M = TypeVar("M", bound=MetricWrapperBase)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# an event's age when a consumer takes it: milliseconds on the hot path, up to an hour
# for one back from a retry queue or kept through a broker outage
LAG_BUCKETS = (*LATENCY_BUCKETS, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


GC_PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


def new_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    registry.register(gc_pauses())
    return registry


class GcPauses(Collector):
    """How long the cyclic garbage collector held the process, by generation, and how
    many objects start-up froze out of its sight (``service.freeze_heap``).

    A pause holds the event loop, so every request in flight waits it out: a full
    collection over an unfrozen heap took 30-70 ms under the bench's load. The counts are
    kept in plain lists inside gc's own callback, never in a metric: the code the
    collection interrupted may hold that metric's lock. A scrape turns them into a
    histogram."""

    def __init__(self, buckets: tuple[float, ...] = GC_PAUSE_BUCKETS) -> None:
        self.buckets = buckets
        self._counts = [[0] * (len(buckets) + 1) for _ in range(3)]  # the last: above all
        self._sums = [0.0] * 3
        self._started = 0.0

    def record(self, generation: int, seconds: float) -> None:
        self._counts[generation][bisect_left(self.buckets, seconds)] += 1
        self._sums[generation] += seconds

    def callback(self, phase: str, info: dict[str, int]) -> None:
        """For ``gc.callbacks``."""
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.record(info["generation"], time.perf_counter() - self._started)

    def collect(self) -> Iterator[Metric]:
        pauses = HistogramMetricFamily(
            "wxp_gc_pause_seconds",
            "Time the garbage collector held the process, by generation",
            labels=["generation"],
        )
        bounds = [*(str(bound) for bound in self.buckets), "+Inf"]
        for generation, counts in enumerate(self._counts):
            cumulative, running = [], 0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            pauses.add_metric([str(generation)], cumulative, self._sums[generation])
        yield pauses
        yield GaugeMetricFamily(
            "wxp_gc_frozen_objects",
            "Objects start-up moved out of the garbage collector's sight (gc.freeze)",
            value=gc.get_freeze_count(),
        )


_GC_PAUSES: GcPauses | None = None


def gc_pauses() -> GcPauses:
    """The process's one GcPauses, hooked into gc on first use (every registry shows it)."""
    global _GC_PAUSES
    if _GC_PAUSES is None:
        _GC_PAUSES = GcPauses()
        gc.callbacks.append(_GC_PAUSES.callback)
    return _GC_PAUSES


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
    lag: Histogram
    answers_per_message: Histogram
    dead_lettered: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ConsumerMetrics:
        return cls(
            messages=Counter(
                "wxp_consumer_messages_total",
                "Messages handled from a queue, by outcome "
                "(ack, requeue, dead_letter, retry, deferred, dropped, ignored)",
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
            lag=Histogram(
                "wxp_consumer_lag_seconds",
                "From the gateway receiving an event to a consumer taking it off its queue "
                "(each event of a bundle too)",
                ["queue"],
                buckets=LAG_BUCKETS,
                registry=registry,
            ),
            answers_per_message=Histogram(
                "wxp_consumer_answers_per_message",
                "Answers on direct reply-to in each message sent (one asker's answers of one "
                "turn travel together)",
                ["queue"],
                buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
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
