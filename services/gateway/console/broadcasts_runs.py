"""A broadcast's runs as the broadcasts page lists them: each at the tenant's local time,
with what may still be done with it. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

OPEN_RUNS = ("scheduled", "sending")


@dataclass(frozen=True, slots=True)
class Entry:
    """One run of a broadcast, at its local time."""

    broadcast_id: str
    name: str
    content: str
    at: datetime  # local to the tenant
    status: str
    cancellable: bool
    msg_id: str | None = None
    result: Mapping[str, Any] | None = None
    reason: str | None = None
    warnings: tuple[Mapping[str, str], ...] = ()


def instant(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).astimezone(zone)


def entries_of(broadcast: Mapping[str, Any], zone: ZoneInfo) -> list[Entry]:
    """A broadcast's runs (listed with ``runs=true``), or its next run when it has none."""
    status = str(broadcast["status"])
    message = broadcast.get("message") or {}
    content = str(message.get("content") or message.get("media_id") or message.get("type", ""))
    runs = list(broadcast.get("runs") or [])
    if not runs and broadcast.get("next_run_at"):
        runs = [{"due_at": broadcast["next_run_at"], "status": status}]
    entries = []
    for run in runs:
        run_status = str(run["status"])
        if status == "cancelled" and run_status in OPEN_RUNS:
            run_status = "cancelled"  # the runner settles it a moment later
        entries.append(
            Entry(
                broadcast_id=str(broadcast["id"]),
                name=str(broadcast["name"]),
                content=content,
                at=instant(str(run["due_at"]), zone),
                status=run_status,
                cancellable=status == "scheduled" and run_status == "scheduled",
                msg_id=run.get("msg_id"),
                result=run.get("result"),
                reason=run.get("reason"),
                warnings=tuple(broadcast.get("warnings") or ()) if run_status in OPEN_RUNS else (),
            )
        )
    return entries


def split_runs(entries: Sequence[Entry]) -> tuple[list[Entry], list[Entry]]:
    """Upcoming runs (soonest first) and the rest (latest first)."""
    upcoming = sorted((e for e in entries if e.status in OPEN_RUNS), key=lambda e: e.at)
    ended = sorted((e for e in entries if e.status not in OPEN_RUNS), key=lambda e: e.at)
    return upcoming, ended[::-1]
