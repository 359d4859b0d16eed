"""The replies service's own metrics. No tenant labels."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.platform.metrics import LATENCY_BUCKETS


@dataclass(frozen=True, slots=True)
class ReplyMetrics:
    passive: Counter
    fallback: Counter
    latency: Histogram
    rules_skipped: Counter
    inbox: Counter
    purged: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ReplyMetrics:
        return cls(
            passive=Counter(
                "wxp_replies_passive_total",
                "Passive-reply requests answered, by outcome (rule, none, late, error)",
                ["outcome"],
                registry=registry,
            ),
            fallback=Counter(
                "wxp_replies_fallback_total",
                "reply.fallback events by outcome (sent, no_rule, duplicate, outside_window, "
                "quota_exhausted, unknown, gave_up, refused_*, deferred)",
                ["outcome"],
                registry=registry,
            ),
            latency=Histogram(
                "wxp_replies_latency_seconds",
                "From WeChat's request reaching the gateway to the reply leaving, by path",
                ["path"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            rules_skipped=Counter(
                "wxp_replies_rules_skipped_total",
                "Stored rules skipped when a rule set loads, because they no longer validate "
                "(each load counts again; the log names the tenant and the rule)",
                registry=registry,
            ),
            inbox=Counter(
                "wxp_replies_inbox_total",
                "Reader inbox items by what happened (recorded, answered, closed, refused, failed)",
                ["outcome"],
                registry=registry,
            ),
            purged=Counter(
                "wxp_replies_purged_total",
                "Documents deleted by the retention job, by collection",
                ["collection"],
                registry=registry,
            ),
        )
