"""The scheduler's own metrics. No tenant labels."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DUE_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True, slots=True)
class SchedulerMetrics:
    due_lag: Histogram
    sends: Counter
    runs: Gauge
    overdue: Gauge
    ended: Counter
    finish_reports: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SchedulerMetrics:
        return cls(
            due_lag=Histogram(
                "wxp_scheduler_due_lag_seconds",
                "From a run's due time to the replica starting it",
                buckets=DUE_LAG_BUCKETS,
                registry=registry,
            ),
            sends=Counter(
                "wxp_scheduler_sends_total",
                "Mass-send calls by outcome (submitted, already_submitted, no_quota, "
                "transient, minute_limit, invalid_media, unauthorized, ...)",
                ["outcome"],
                registry=registry,
            ),
            runs=Gauge(
                "wxp_scheduler_runs",
                "Runs in the due index by status (scheduled, sending, submitted awaiting "
                "their finish report), as of this replica's latest scan",
                ["status"],
                registry=registry,
            ),
            overdue=Gauge(
                "wxp_scheduler_overdue_seconds",
                "How late the most overdue run is: now less the due time of the oldest run "
                "that is due and not yet started (0 when none), as of this replica's latest "
                "scan",
                registry=registry,
            ),
            ended=Counter(
                "wxp_scheduler_runs_ended_total",
                "Runs that reached an end state on this replica (finished, failed, "
                "cancelled, skipped)",
                ["status"],
                registry=registry,
            ),
            finish_reports=Counter(
                "wxp_scheduler_finish_reports_total",
                "MASSSENDJOBFINISH events by outcome (recorded; parked: no run knows the "
                "msg_id yet)",
                ["outcome"],
                registry=registry,
            ),
        )
