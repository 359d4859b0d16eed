"""Working on one run: the step it needs next, under a claim.

Each look at a run takes the next claim on it (``{run}~{n}``, a unique insert) and holds
it for ``claim_seconds``; a claim found taken and still held means another replica is at
work, one found expired (its owner died) is stepped over. The holder alone writes the run.

- **send**: the first look records the run's fate (``send``; an operator's ``cancel``
  inserted first wins), checks the quota again, then submits every batch under its own
  deterministic ``clientmsgid``. A batch whose outcome is unknown (timeout, crash) is
  simply sent again: WeChat answers 45065 with the earlier ``msg_id``, which counts as
  submitted. A call is only started while the claim has ``CALL_BUDGET`` left.
- **announce**: ``broadcast.submitted`` on the bus (a deterministic id, so a repeat is
  recognisable), then the recurring broadcast's next run is planned.
- **check**: a run whose job-finish reports have not all come within ``check_after`` is
  asked about through ``mass/get``.
- **finish**: every batch has its report: ``finished``, and ``broadcast.finished``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.outcomes import Verdict, classify
from services.scheduler.planning import Account, new_run, plan, reserve
from services.scheduler.quota import over_reader_limit, reader_period
from services.scheduler.runs import (
    CANCELLED,
    ENDED,
    FAILED,
    FINISHED,
    OPEN,
    SCHEDULED,
    SENDING,
    SKIPPED,
    SUBMITTED,
    Batch,
    Run,
)
from services.scheduler.schedule import next_due, schedule_from_json
from services.scheduler.spec import Audience, Message
from services.scheduler.store import BroadcastStore
from services.scheduler.wechat_calls import MassCalls
from shared.contracts.broadcast_events import BroadcastFinished, BroadcastSubmitted
from shared.contracts.envelope import announce
from shared.platform.publisher import EventPublisher

logger = logging.getLogger(__name__)
CALL_BUDGET = timedelta(seconds=25)  # a mass-send call with its retries and token refresh
MAX_CLAIM_STEPS = 50
SENDING_CHECK_AGAIN = timedelta(minutes=5)  # mass/get said the job is still sending
STEP_FAILED_WAIT = timedelta(minutes=1)


@dataclass
class RunWorker:
    store: BroadcastStore
    wechat: MassCalls
    events: EventPublisher
    metrics: SchedulerMetrics
    owner: str
    claim_seconds: float
    check_after: timedelta
    now: Callable[[], datetime]

    async def look_at(self, key: str) -> None:
        """Does what run ``key`` needs next, if no other replica is doing it."""
        tenant_id, broadcast_id, run_id = key.split("/")
        run = await self.store.run(tenant_id, broadcast_id, run_id)
        tenant = await self.store.tenant(tenant_id)
        broadcast = await self.store.broadcast(tenant_id, broadcast_id)
        if run is None or tenant is None or broadcast is None:
            await self.store.unschedule(key)  # deleted, with its tenant or on its own
            return
        if run.status in ENDED and (run.reported or run.status != FINISHED):
            await self.store.unschedule(key)
            return
        claimed = await self._claim(run)
        if claimed is None:
            return
        job = Job(Account.of(tenant_id, tenant), broadcast, claimed)
        try:
            await self._step(job)
        except Exception:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # shutting down: pymongo may report the cancel as a connection failure
            # WeChat or the database failed in a way no step expects (a tenant's secret
            # that does not open, say): look again later rather than at every scan.
            logger.exception("run %s: step failed; looking again in %s", key, STEP_FAILED_WAIT)
            await self.store.schedule(key, self.now() + STEP_FAILED_WAIT, job.run.status)
        finally:
            await self.store.release_claim(key, claimed.claims, now=self.now())

    async def _step(self, job: Job) -> None:
        """The step the run needs, as the claim found it."""
        claimed = job.run
        if claimed.status in OPEN:
            await self._send(job)
        elif claimed.status == SUBMITTED and not claimed.announced:
            await self._announce(job)
        elif claimed.status == SUBMITTED and claimed.result() is None:
            await self._check(job)
        if _reportable(job.run):
            await self._finish(job)

    async def _claim(self, run: Run) -> Run | None:
        """The next claim on the run, unless its latest is still held."""
        now = self.now()
        if run.claims and (await self.store.claim_until(run.key, run.claims) or now) > now:
            return None
        attempt = run.claims + 1
        for _ in range(MAX_CLAIM_STEPS):
            now = self.now()
            until = now + timedelta(seconds=self.claim_seconds)
            if await self.store.claim(run.key, attempt, owner=self.owner, until=until):
                fresh = await self.store.run(run.tenant_id, run.broadcast_id, run.run_id)
                claimed = replace(fresh or run, claims=attempt)  # as the last holder left it
                await self.store.save_run(claimed)
                return claimed
            held_until = await self.store.claim_until(run.key, attempt)
            if held_until is not None and held_until > now:
                return None
            attempt += 1  # its holder died before writing the run
        logger.error("run %s: %d stale claims in a row; leaving it", run.key, MAX_CLAIM_STEPS)
        return None

    # -- send -------------------------------------------------------------------------------
    async def _send(self, job: Job) -> None:
        started = self.now()
        early = job.run.status == SCHEDULED and job.run.due_at > started
        if early and await self.store.fate(job.run.key) != "cancel":  # never before its time
            await self.store.schedule(job.run.key, job.run.due_at, SCHEDULED)
            return
        if job.run.status == SCHEDULED:
            cancelled = job.broadcast.get("status") == CANCELLED  # a run planned as it was
            if cancelled or await self.store.decide(job.run.key, "send") == "cancel":
                await self._end(job, CANCELLED, "cancelled")
                return
            if job.audience.counts_toward_quota and not await reserve(
                self.store, job.account, job.run, now=started
            ):
                await self._end(job, SKIPPED, "quota_full")
                return
            self.metrics.due_lag.observe(max((started - job.run.due_at).total_seconds(), 0.0))
            job.run = replace(job.run, status=SENDING, started_at=started)
            await self.store.save_run(job.run)
            await self.store.mark_due(job.run.key, SENDING)  # started: no longer overdue
            if "cron" not in job.broadcast["schedule"]:
                await self._broadcast_status(job, SENDING)
        lease_end = started + timedelta(seconds=self.claim_seconds)
        for batch in job.run.pending_batches:
            if self.now() + CALL_BUDGET > lease_end:
                await self.store.save_run(job.run)
                await self.store.schedule(job.run.key, self.now(), SENDING)  # a fresh claim
                return
            if not await self._send_batch(job, batch):
                return
        job.run = replace(job.run, status=SUBMITTED, submitted_at=self.now(), reason=None)
        await self.store.save_run(job.run)
        await self._announce(job)

    async def _send_batch(self, job: Job, batch: Batch) -> bool:
        """Submits one batch; False when the run stops here (failed, or to try later)."""
        body: dict[str, Any] = {**job.message.wechat_body(), "clientmsgid": batch.clientmsgid}
        if job.audience.kind == "openids":
            openids = await self._readers(job, batch)
            if openids is None:
                return True  # every reader of the batch had their month's list sends
            body.update(job.audience.wechat_target(openids))
        else:
            body.update(job.audience.wechat_target())
        answer, errcode = await self.wechat.send(
            job.account.appid, job.audience.kind == "openids", body
        )
        outcome = classify(errcode, job.run.tries + 1)  # this call's number
        self.metrics.sends.labels(outcome.reason or "submitted").inc()
        if outcome.verdict is Verdict.SUBMITTED:
            msg_id, data_id = str(answer.get("msg_id", "")), answer.get("msg_data_id")
            await self.store.index_msg(job.account.tenant_id, msg_id, job.run.key)
            done = replace(
                batch,
                msg_id=msg_id,
                msg_data_id=None if data_id is None else str(data_id),
                submitted_at=self.now(),
            )
            job.run = job.run.with_batch(done)
            await self.store.save_run(job.run)
            parked = None
            if outcome.reason == "already_submitted":  # the first send may have finished
                parked = await self.store.parked_report(job.account.tenant_id, msg_id)
            if parked is not None:  # its report came before the msg_id was known
                await self.store.save_result(job.run, batch.index, parked)
                job.run = job.run.with_batch(replace(done, result=parked))
            return True
        if outcome.verdict is Verdict.RETRY:
            retry_at = self.now() + timedelta(seconds=outcome.retry_after or 60.0)
            job.run = replace(job.run, tries=job.run.tries + 1, reason=outcome.reason)
            await self.store.save_run(job.run)
            await self.store.schedule(job.run.key, retry_at, SENDING)
            logger.info("run %s: %s; trying again at %s", job.run.key, outcome.reason, retry_at)
            return False
        await self._end(job, FAILED, outcome.reason or "failed")
        return False

    async def _readers(self, job: Job, batch: Batch) -> list[str] | None:
        """The batch's openids, less (on a service account) readers who already had their
        four list sends this month; those are kept on the run for its result."""
        openids = await self.store.audience_batch(
            job.account.tenant_id, job.run.broadcast_id, batch.index
        )
        if job.account.account_type != "service":
            return openids
        month = reader_period(job.run.due_at, job.account.timezone).key
        counts = await self.store.reader_counts(job.account.tenant_id, month, openids, job.run.key)
        allowed, over = over_reader_limit(counts, openids)
        if over:
            job.run = replace(job.run, over_limit=(*job.run.over_limit, *over))
        if len(allowed) < 2:  # WeChat takes lists of 2 or more
            skipped = {"status": "over reader limit", "total": len(openids), "filter": 0}
            result = {**skipped, "sent": 0, "error": 0}
            job.run = job.run.with_batch(replace(batch, msg_id="", submitted_at=self.now()))
            await self.store.save_run(job.run)
            await self.store.save_result(job.run, batch.index, result)
            job.run = job.run.with_batch(replace(batch, msg_id="", result=result))
            return None
        await self.store.record_readers(job.account.tenant_id, month, allowed, job.run.key)
        return allowed

    # -- after WeChat took it -----------------------------------------------------------------
    async def _announce(self, job: Job) -> None:
        run = job.run
        submitted = BroadcastSubmitted(
            run.broadcast_id,
            run.run_id,
            job.audience.kind,
            msg_id=run.msg_ids[0] if run.msg_ids else None,
            msg_data_id=next((b.msg_data_id for b in run.batches if b.msg_data_id), None),
        )
        await self._publish(job, submitted, "submitted", run.submitted_at or self.now())
        job.run = replace(run, announced=True)
        await self.store.save_run(job.run)
        next_run = await self._move_on(job)
        check_at = (job.run.submitted_at or self.now()) + self.check_after
        await self.store.schedule(job.run.key, check_at, SUBMITTED)
        await self._broadcast_status(job, SUBMITTED, next_run=next_run)
        fresh = await self.store.run(run.tenant_id, run.broadcast_id, run.run_id)
        if fresh is not None:  # reports that came meanwhile: finished at once, not at check_at
            job.run = replace(job.run, batches=fresh.batches)

    async def _check(self, job: Job) -> None:
        for batch in job.run.batches:
            if batch.result is not None or not batch.msg_id:
                continue
            status = await self.wechat.status(job.account.appid, batch.msg_id)
            if status in (None, "SENDING"):
                await self.store.schedule(job.run.key, self.now() + SENDING_CHECK_AGAIN, SUBMITTED)
                return
            result: dict[str, Any] = {"status": MASS_GET_WORDS.get(status, status.lower())}
            result.update(dict.fromkeys(("total", "filter", "sent", "error")))
            await self.store.save_result(job.run, batch.index, result)
            job.run = job.run.with_batch(replace(batch, result=result))

    async def _finish(self, job: Job) -> None:
        result = job.run.result() or {}
        job.run = replace(job.run, status=FINISHED)
        await self.store.save_run(job.run)
        finished = BroadcastFinished(
            job.run.broadcast_id,
            job.run.run_id,
            job.run.msg_ids[0] if job.run.msg_ids else "",
            str(result.get("status")),
            *(int(result.get(name) or 0) for name in ("total", "filter", "sent", "error")),
        )
        await self._publish(job, finished, "finished", self.now())
        job.run = replace(job.run, reported=True)
        await self.store.save_run(job.run)
        await self.store.unschedule(job.run.key)
        await self._broadcast_status(job, FINISHED)
        self.metrics.ended.labels(FINISHED).inc()

    async def _end(self, job: Job, status: str, reason: str) -> None:
        """The run ends without reaching WeChat (or with part of it refused)."""
        job.run = replace(job.run, status=status, reason=reason)
        await self.store.save_run(job.run)
        if not job.run.msg_ids:
            await self.store.release_slot(job.account.tenant_id, job.run.key)
        next_run = None if status == CANCELLED else await self._move_on(job)
        await self.store.unschedule(job.run.key)
        await self._broadcast_status(job, status, next_run=next_run)
        self.metrics.ended.labels(status).inc()
        logger.info("run %s ended %s: %s", job.run.key, status, reason)

    async def _move_on(self, job: Job) -> datetime | None:
        """Plans a recurring broadcast's next run (idempotent: its id is its due time);
        answers its due time, None when there is none."""
        schedule = schedule_from_json(job.broadcast["schedule"])
        due = next_due(schedule, timezone=job.account.timezone, after=job.run.due_at)
        if due is None:
            return None
        run = new_run(job.account, job.run.broadcast_id, due, int(job.broadcast.get("batches", 1)))
        if job.audience.counts_toward_quota:
            await reserve(self.store, job.account, run, now=self.now())  # else skipped when due
        await plan(self.store, run)
        return due

    async def _broadcast_status(
        self, job: Job, status: str, *, next_run: datetime | bool | None = False
    ) -> None:
        """A one-off broadcast shows its run's state; a recurring one stays ``scheduled``
        while it has runs to come, and is ``completed`` after its last. ``next_run``: the
        next due time to record (False: unchanged)."""
        fields: dict[str, Any] = {} if next_run is False else {"next_run_at": next_run}
        if job.broadcast.get("status") != CANCELLED:
            if "cron" not in job.broadcast["schedule"]:
                fields["status"] = status
            elif next_run is None:
                fields["status"] = "completed"
        if fields:
            await self.store.update_broadcast(job.account.tenant_id, job.run.broadcast_id, **fields)

    async def _publish(self, job: Job, payload: Any, what: str, at: datetime) -> None:
        digest = hashlib.sha256(f"{job.run.key}:{what}".encode()).hexdigest()[:32]
        envelope = announce(payload, id=digest, tenant_id=job.account.tenant_id, at=at)
        await self.events.publish(envelope)


def _reportable(run: Run) -> bool:
    """Announced, every batch's report in, ``broadcast.finished`` not yet published."""
    announced = run.status in (SUBMITTED, FINISHED) and run.announced
    return announced and not run.reported and run.result() is not None


MASS_GET_WORDS = {"SEND_SUCCESS": "sent", "SEND_FAIL": "failed", "DELETE": "deleted"}


class Job:
    """A run being worked on, with its broadcast's message and audience decoded."""

    def __init__(self, account: Account, broadcast: dict[str, Any], run: Run) -> None:
        self.account = account
        self.broadcast = broadcast
        self.run = run
        self.message = Message.from_json(broadcast["message"])
        self.audience = Audience(broadcast["audience"]["kind"], broadcast["audience"].get("tag_id"))
