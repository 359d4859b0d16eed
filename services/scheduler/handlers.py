"""What the scheduler takes off its queue: WeChat's job-finish reports of its mass sends,
and what analytics says about send hours and unfollows after a push.

A report is written on its run's batch (only the run's claim holder writes anything
else), and the run is asked to be looked at now: the runner marks it ``finished`` once
every batch has its report. A report whose msg_id no run has recorded is parked: its run may
still be learning the msg_id (the answer to its send was lost, and the resend will hear
it through 45065), and the runner picks it up when it records the msg_id. Reports of
sends made from WeChat's own console stay parked, unread. Every write is idempotent, so a
redelivery does no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.outcomes import job_status
from services.scheduler.runs import SUBMITTED
from services.scheduler.store import BroadcastStore
from shared.contracts.broadcast_events import BroadcastImpact, SendTimeAdvice
from shared.contracts.messages import WeChatMessage
from shared.platform.delivery import Delivery

logger = logging.getLogger(__name__)
JOB_FINISHED = "event.masssendjobfinish"
COUNTS = {"total": "total_count", "filter": "filter_count", "sent": "sent_count"}


def report_of(message: WeChatMessage) -> dict[str, Any]:
    """A MASSSENDJOBFINISH event as a batch's result, its status in words."""
    result: dict[str, Any] = {"status": job_status(message.text("status") or "")}
    for name, field in (*COUNTS.items(), ("error", "error_count")):
        value = message.text(field)
        result[name] = int(value) if value is not None and value.isdigit() else None
    for name in ("copyright_check_result", "article_url_result"):
        if name in message.fields:
            result[name] = message.fields[name]
    return result


@dataclass(frozen=True, slots=True)
class SchedulerHandlers:
    store: BroadcastStore
    metrics: SchedulerMetrics
    look_soon: Callable[[str, datetime], None]
    now: Callable[[], datetime]

    async def job_finished(self, delivery: Delivery[WeChatMessage]) -> None:
        envelope = delivery.envelope
        msg_id = envelope.payload.text("msg_id")
        if envelope.type != JOB_FINISHED or not msg_id:
            return  # a template-message report: no run of ours
        key = await self.store.run_of_msg(envelope.tenant_id, msg_id)
        run = None
        if key is not None:
            _, broadcast_id, run_id = key.split("/")
            run = await self.store.run(envelope.tenant_id, broadcast_id, run_id)
        batch = next((b for b in run.batches if b.msg_id == msg_id), None) if run else None
        result = report_of(envelope.payload)
        if run is None or batch is None:
            await self.store.park_report(envelope.tenant_id, msg_id, result)
            self.metrics.finish_reports.labels("parked").inc()
            logger.info("tenant %s: job-finish of msg_id %s parked", envelope.tenant_id, msg_id)
            return
        await self.store.save_result(run, batch.index, result)
        self.metrics.finish_reports.labels("recorded").inc()
        run = run.with_batch(replace(batch, result=result))
        if run.result() is not None:
            now = self.now()
            await self.store.schedule(run.key, now, SUBMITTED)
            self.look_soon(run.key, now)

    async def send_time(self, delivery: Delivery[SendTimeAdvice]) -> None:
        advice = delivery.envelope.payload
        note = {"hour": advice.hour, "basis": advice.basis, "at": delivery.envelope.occurred_at}
        await self.store.note(delivery.envelope.tenant_id, "send_time", note)

    async def impact(self, delivery: Delivery[BroadcastImpact]) -> None:
        impact = delivery.envelope.payload
        note = {
            "broadcast_id": impact.broadcast_id,
            "run_id": impact.run_id,
            "lift": impact.lift,
            "at": delivery.envelope.occurred_at,
        }
        await self.store.note(delivery.envelope.tenant_id, "impact", note)
