"""Prometheus metrics of WeChat API use. No appid or tenant label: the set is bounded."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.platform.metrics import LATENCY_BUCKETS

WECHAT_BUCKETS = (*LATENCY_BUCKETS, 10.0)


@dataclass(frozen=True, slots=True)
class WeChatMetrics:
    token_refreshes: Counter
    calls: Counter
    retries: Counter
    latency: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> WeChatMetrics:
        return cls(
            token_refreshes=Counter(
                "wxp_wechat_token_refreshes_total",
                "Access tokens fetched from WeChat, by outcome (ok or the error kind)",
                ["outcome"],
                registry=registry,
            ),
            calls=Counter(
                "wxp_wechat_api_calls_total",
                "WeChat API requests (each try), by endpoint and outcome (ok or the error kind)",
                ["endpoint", "outcome"],
                registry=registry,
            ),
            retries=Counter(
                "wxp_wechat_api_retries_total",
                "WeChat API requests tried again, by endpoint and why (transient, token)",
                ["endpoint", "reason"],
                registry=registry,
            ),
            latency=Histogram(
                "wxp_wechat_api_duration_seconds",
                "WeChat API request latency (each try), by endpoint",
                ["endpoint"],
                buckets=WECHAT_BUCKETS,
                registry=registry,
            ),
        )
