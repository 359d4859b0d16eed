"""Where a gateway request's time went during a timed run, from the gateway's own
histograms: its /metrics before and after the run, the difference's quantiles
interpolated within buckets as Prometheus' ``histogram_quantile`` does. Buckets are coarse
(1, 2.5, 5, 10, 25, 50, 100 ms...), and so are these figures; they say which wait
dominates, which the client's p50/p99 cannot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

WEBHOOK_ROUTE = "/wx/{tenant_id}"
STAGES = {  # histogram family -> what it times, in the order printed
    "wxp_http_request_duration_seconds": "handler",
    "wxp_gateway_dedup_seconds": "dedup",
    "wxp_gateway_publish_seconds": "confirm",
    "wxp_gateway_reply_wait_seconds": "reply",
}

Buckets = dict[float, float]  # upper bound -> cumulative count


def histograms(text: str) -> dict[str, Buckets]:
    """The STAGES' buckets in a /metrics scrape (the HTTP one for the webhook route only)."""
    found: dict[str, Buckets] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in STAGES:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            if "route" in sample.labels and sample.labels["route"] != WEBHOOK_ROUTE:
                continue
            bound = float(sample.labels["le"])
            buckets = found.setdefault(family.name, {})
            buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return found


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile of cumulative ``buckets``, linear within its bucket; None when empty.
    Past the last finite bound it is that bound (a histogram knows no more)."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            share = (rank - below) / (count - below) if count > below else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, count
    return lower


def stage_note(before: Mapping[str, Buckets], after: Mapping[str, Buckets]) -> str | None:
    """``"handler p50 27 / p99 59 ms; dedup ..."`` for what the run added."""
    parts = []
    for name, what in STAGES.items():
        now = after.get(name, {})
        run = {bound: count - before.get(name, {}).get(bound, 0.0) for bound, count in now.items()}
        p50, p99 = quantile(0.5, run), quantile(0.99, run)
        if p50 is not None and p99 is not None:
            parts.append(f"{what} p50 {p50 * 1000:.0f} / p99 {p99 * 1000:.0f} ms")
    return "; ".join(parts) if parts else None


def _totals(text: str, family: str, labels: Mapping[str, str]) -> tuple[float, float]:
    """A histogram's (sum, count) in a scrape, over its samples that carry ``labels``."""
    found = {"sum": 0.0, "count": 0.0}
    for metric in text_string_to_metric_families(text):
        if metric.name != family:
            continue
        for sample in metric.samples:
            part = sample.name.removeprefix(f"{family}_")
            if part in found and all(sample.labels.get(k) == v for k, v in labels.items()):
                found[part] += sample.value
    return found["sum"], found["count"]


TOGETHER = "wxp_gateway_events_per_message"
ANSWERS = "wxp_consumer_answers_per_message"


def together_note(
    before: str, after: str, family: str = TOGETHER, what: str = "events"
) -> str | None:
    """``"events per message: 13.7 (620 messages)"``: how many events the gateway's
    publishes carried together during the run (``services/gateway/dispatch.py``), or,
    with ``ANSWERS``, how many answers the replies service's messages on direct reply-to
    carried (``shared/platform/answers.py``)."""
    (items, messages), (items_before, messages_before) = (
        _totals(text, family, {}) for text in (after, before)
    )
    items, messages = items - items_before, messages - messages_before
    if messages <= 0:
        return None
    return f"{what} per message: {items / messages:.1f} ({messages:.0f} messages)"


HTTP = "wxp_http_request_duration_seconds"
Scrapes = tuple[str, str]  # one process's /metrics before and after a run


def mean_ms(scrapes: Scrapes, family: str, **labels: str) -> float | None:
    """The mean of what the run added to a histogram, in ms; None when it added nothing."""
    (sum_before, count_before), (sum_after, count_after) = (
        _totals(text, family, labels) for text in scrapes
    )
    if count_after <= count_before:
        return None
    return (sum_after - sum_before) / (count_after - count_before) * 1000


def journey_note(gateway: Scrapes, replies: Scrapes, client_mean_ms: float) -> str | None:
    """Where a text's time went, as means that add up to the client's: the gateway's dedup
    wait; on to replies (``wxp_consumer_lag_seconds``, from the gateway's received_at);
    in replies (``wxp_replies_latency_seconds``, received_at to the answer queued); back
    to the gateway (its reply wait, from the request's arrival); the handler's rest
    (rendering the reply); outside the handler (reading and writing the HTTP, as wrk
    sees it). Means, not quantiles: they come exactly from the histograms' sums, and
    add up."""
    handler = mean_ms(gateway, HTTP, route=WEBHOOK_ROUTE)
    dedup = mean_ms(gateway, "wxp_gateway_dedup_seconds")
    waited = mean_ms(gateway, "wxp_gateway_reply_wait_seconds")
    taken = mean_ms(replies, "wxp_consumer_lag_seconds")
    answered = mean_ms(replies, "wxp_replies_latency_seconds", path="passive")
    if handler is None or dedup is None or waited is None or taken is None or answered is None:
        return None
    parts = (
        ("dedup", dedup),
        ("on to replies", taken - dedup),
        ("in replies", answered - taken),
        ("back to the gateway", waited - answered),
        ("the handler's rest", handler - waited),
        ("outside the handler", client_mean_ms - handler),
    )
    spent = ", ".join(f"{what} {ms:.1f}" for what, ms in parts)
    return f"a text's {client_mean_ms:.1f} ms, means: {spent}"
