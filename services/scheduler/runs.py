"""A broadcast's runs: one per due time, with one batch per mass-send call, and the
states a run moves through. Pure: the runner decides, ``store.py`` writes.

``scheduled`` → ``sending`` → ``submitted`` (WeChat took every batch) → ``finished``
(every batch's job-finish report, or ``mass/get``'s answer, is in); or ``failed``,
``cancelled``, ``skipped`` (its quota period was full when it fell due).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

SCHEDULED = "scheduled"
SENDING = "sending"
SUBMITTED = "submitted"
FINISHED = "finished"
FAILED = "failed"
CANCELLED = "cancelled"
SKIPPED = "skipped"
OPEN = (SCHEDULED, SENDING)  # not yet in WeChat's hands
ENDED = (FINISHED, FAILED, CANCELLED, SKIPPED)
RESULT_FIELDS = ("status", "total", "filter", "sent", "error")


def run_key(tenant_id: str, broadcast_id: str, run_id: str) -> str:
    return f"{tenant_id}/{broadcast_id}/{run_id}"


@dataclass(frozen=True, slots=True)
class Batch:
    index: int
    clientmsgid: str
    size: int | None = None  # openids in it; None for a send to all or to a tag
    msg_id: str | None = None
    msg_data_id: str | None = None
    submitted_at: datetime | None = None
    result: dict[str, Any] | None = None  # the job-finish report, in words

    def to_doc(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "clientmsgid": self.clientmsgid,
            "size": self.size,
            "msg_id": self.msg_id,
            "msg_data_id": self.msg_data_id,
            "submitted_at": self.submitted_at,
            "result": self.result,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Batch:
        return cls(
            int(doc["index"]),
            str(doc["clientmsgid"]),
            doc.get("size"),
            doc.get("msg_id"),
            doc.get("msg_data_id"),
            doc.get("submitted_at"),
            doc.get("result"),
        )


@dataclass(frozen=True, slots=True)
class Run:
    tenant_id: str
    broadcast_id: str
    run_id: str
    due_at: datetime
    status: str = SCHEDULED
    claims: int = 0  # claims taken on it (one per step a replica worked on)
    tries: int = 0  # mass-send calls that asked to be tried again
    batches: tuple[Batch, ...] = ()
    reason: str | None = None
    started_at: datetime | None = None
    submitted_at: datetime | None = None
    announced: bool = False  # broadcast.submitted is on the bus
    reported: bool = False  # broadcast.finished is on the bus
    over_limit: tuple[str, ...] = ()  # readers left out: they had their 4 list sends this month
    retracted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return run_key(self.tenant_id, self.broadcast_id, self.run_id)

    @property
    def doc_id(self) -> str:
        return f"{self.broadcast_id}:{self.run_id}"

    @property
    def pending_batches(self) -> list[Batch]:
        return [b for b in self.batches if b.msg_id is None]

    @property
    def msg_ids(self) -> list[str]:
        return [b.msg_id for b in self.batches if b.msg_id]

    def result(self) -> dict[str, Any] | None:
        """The job-finish reports summed over the batches, once every one is in."""
        reports = [b.result for b in self.batches]
        if not reports or any(r is None for r in reports):
            return None
        statuses = sorted({str(r["status"]) for r in reports if r is not None})
        summed: dict[str, Any] = {"status": statuses[0] if len(statuses) == 1 else "mixed"}
        for name in RESULT_FIELDS[1:]:
            values = [r.get(name) for r in reports if r is not None]
            summed[name] = None if None in values else sum(int(v) for v in values if v is not None)
        return summed

    def with_batch(self, batch: Batch) -> Run:
        batches = tuple(batch if b.index == batch.index else b for b in self.batches)
        return replace(self, batches=batches)

    def view(self) -> dict[str, Any]:
        """The run as the API shows it."""
        first = self.batches[0] if self.batches else None
        return {
            "run_id": self.run_id,
            "due_at": _iso(self.due_at),
            "status": self.status,
            "clientmsgid": first.clientmsgid if first else None,
            "msg_id": first.msg_id if first else None,
            "msg_data_id": first.msg_data_id if first else None,
            "submitted_at": _iso(self.submitted_at),
            "result": self.result(),
            "reason": self.reason,
            "tries": self.tries,
            "batches": [{**b.to_doc(), "submitted_at": _iso(b.submitted_at)} for b in self.batches],
            "over_limit": len(self.over_limit),
            "retracted": [{**r, "at": _iso(r.get("at"))} for r in self.retracted],
        }


def _iso(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")
