"""Analytics' own metrics. No tenant labels."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True, slots=True)
class AnalyticsMetrics:
    events: Counter
    lag: Gauge
    tenants: Gauge
    published: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AnalyticsMetrics:
        return cls(
            events=Counter(
                "wxp_analytics_events_total",
                "Facts moved into the raw log, by kind (follow, unfollow, interaction, "
                "reply, broadcast, other); a redelivery moved by a later fold counts again "
                "here, never in the figures",
                ["kind"],
                registry=registry,
            ),
            lag=Gauge(
                "wxp_analytics_consumer_lag_seconds",
                "From the gateway receiving the latest counted event to analytics counting it",
                registry=registry,
            ),
            tenants=Gauge(
                "wxp_analytics_tenants",
                "Tenants by account health (active, declining, dormant, no_data), as of this "
                "replica's latest refresh",
                ["status"],
                registry=registry,
            ),
            published=Counter(
                "wxp_analytics_published_total",
                "What analytics published, by type (analytics.send_time, "
                "analytics.broadcast_impact)",
                ["type"],
                registry=registry,
            ),
        )
