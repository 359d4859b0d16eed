"""The gateway's own metrics, on the app's explicit registry. No tenant labels."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.platform.metrics import LATENCY_BUCKETS, LabelCache


@dataclass(frozen=True, slots=True)
class GatewayMetrics:
    rejected: Counter
    accepted: Counter
    dedup_hits: Counter
    dedup_skipped: Counter
    published: Counter
    kept: Counter
    backlog: Gauge
    oldest: Gauge
    replies: Counter
    deadline_missed: Counter
    reply_wait: Histogram
    publish_latency: Histogram
    events_per_message: Histogram
    dedup_latency: Histogram
    replay_unchecked: Counter
    child: LabelCache = field(default_factory=LabelCache)  # labelled children, on hot paths

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GatewayMetrics:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, list(labels), registry=registry)

        return cls(
            rejected=counter(
                "wxp_gateway_rejected_total", "Webhook requests refused, by reason", ("reason",)
            ),
            accepted=counter(
                "wxp_gateway_events_accepted_total",
                "Messages and events accepted from WeChat, by kind",
                ("kind",),
            ),
            dedup_hits=counter(
                "wxp_gateway_dedup_hits_total",
                "WeChat retries (or replays) recognised and not published again",
            ),
            dedup_skipped=counter(
                "wxp_gateway_dedup_skipped_total",
                "Events published without dedup because the database did not answer in time",
            ),
            published=counter(
                "wxp_gateway_events_published_total",
                "Events confirmed by the broker, by path",
                ("path",),
            ),
            kept=counter(
                "wxp_gateway_events_kept_total",
                "Events kept in MongoDB because the broker did not confirm them",
            ),
            backlog=Gauge(
                "wxp_gateway_outbox_backlog",
                "Kept events waiting for the relay, read every 10 s, broker connected or not",
                registry=registry,
            ),
            oldest=Gauge(
                "wxp_gateway_outbox_oldest_seconds",
                "Age of the oldest kept event waiting for the relay (0 when none), broker "
                "connected or not",
                registry=registry,
            ),
            replies=counter(
                "wxp_gateway_replies_total",
                "Outcome of each message that could get a passive reply",
                ("outcome",),
            ),
            deadline_missed=counter(
                "wxp_gateway_reply_deadline_missed_total",
                "Passive replies that did not arrive before the deadline",
            ),
            reply_wait=Histogram(
                "wxp_gateway_reply_wait_seconds",
                "Time from WeChat's request to the passive reply arriving",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            publish_latency=Histogram(
                "wxp_gateway_publish_seconds",
                "Time for the broker to confirm one event",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            events_per_message=Histogram(
                "wxp_gateway_events_per_message",
                "Events published together in one message (a bundle, or 1 alone)",
                buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
                registry=registry,
            ),
            dedup_latency=Histogram(
                "wxp_gateway_dedup_seconds",
                "Time for the dedup record of one event (its part in a shared insert)",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            replay_unchecked=counter(
                "wxp_gateway_replay_unchecked_total",
                "Plaintext webhooks taken without the replay check: the database did not answer",
            ),
        )
